package dev.idempotency.jdbc;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A data source that runs a test's hook before each connection it hands out (to hold a thread
 * back, or to refuse as an unreachable database does), then asks the real one.
 */
final class HookedDataSource implements DataSource {

  /** Runs before each {@link #getConnection()}; may throw to refuse it. */
  interface Hook {
    void beforeConnect() throws SQLException;
  }

  private final DataSource real;
  private final Hook hook;

  HookedDataSource(DataSource real, Hook hook) {
    this.real = real;
    this.hook = hook;
  }

  @Override
  public Connection getConnection() throws SQLException {
    hook.beforeConnect();
    return real.getConnection();
  }

  @Override
  public Connection getConnection(String user, String password) throws SQLException {
    hook.beforeConnect();
    return real.getConnection(user, password);
  }

  @Override
  public PrintWriter getLogWriter() throws SQLException {
    return real.getLogWriter();
  }

  @Override
  public void setLogWriter(PrintWriter out) throws SQLException {
    real.setLogWriter(out);
  }

  @Override
  public void setLoginTimeout(int seconds) throws SQLException {
    real.setLoginTimeout(seconds);
  }

  @Override
  public int getLoginTimeout() throws SQLException {
    return real.getLoginTimeout();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return real.getParentLogger();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    return real.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return real.isWrapperFor(iface);
  }
}
