package dev.idempotency.jdbc;

import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import javax.naming.InitialContext;
import javax.naming.NamingException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link JdbcStore} for {@code idempotency.store=jdbc} from {@code idempotency.jdbc.*}:
 * its own pool from {@code jdbc.url}, or the container's {@link DataSource} named by
 * {@code jdbc.datasource} (looked up in JNDI, never closed by the store). Thread-safe.
 */
public final class JdbcStoreProvider implements StoreProvider {

  private static final Logger log = LoggerFactory.getLogger(JdbcStoreProvider.class);

  @Override
  public String name() {
    return "jdbc";
  }

  @Override
  public IdempotencyStore create(StoreSettings settings) {
    return builder(settings).build();
  }

  /**
   * A builder set from {@code settings}, with a {@code jdbc.datasource} already looked up: its
   * {@code build()} may be called again later from any thread (a store's own threads have no
   * {@code java:comp/env}).
   *
   * @throws IllegalArgumentException if both {@code jdbc.url} and {@code jdbc.datasource} are
   *     set, or the name does not resolve to a {@link DataSource}
   */
  static JdbcStore.Builder builder(StoreSettings settings) {
    JdbcStore.Builder builder = JdbcStore.builder().createSchema(settings.jdbcCreateSchema());
    String name = settings.jdbcDataSource();
    if (name == null) {
      return builder
          .url(settings.jdbcUrl())
          .user(settings.jdbcUser())
          .password(settings.jdbcPassword());
    }
    if (settings.jdbcUrl() != null) {
      throw new IllegalArgumentException("idempotency.jdbc.datasource and idempotency.jdbc.url "
          + "are both set: set one ('" + name + "', "
          + JdbcStore.Builder.redact(settings.jdbcUrl()) + ")");
    }
    if (settings.jdbcUser() != null || settings.jdbcPassword() != null) {
      log.warn("idempotency.jdbc.user and .password are ignored with idempotency.jdbc.datasource:"
          + " the container's DataSource '{}' connects as it is configured", name);
    }
    return builder.dataSource(lookUp(name));
  }

  /** The {@link DataSource} bound to {@code name} in the caller's JNDI context. */
  static DataSource lookUp(String name) {
    Object found;
    try {
      InitialContext context = new InitialContext();
      try {
        found = context.lookup(name);
      } finally {
        context.close();
      }
    } catch (NamingException e) {
      throw new IllegalArgumentException("idempotency.jdbc.datasource must be the JNDI name of a "
          + "DataSource: '" + name + "' (" + e.getClass().getSimpleName() + ": " + e.getMessage()
          + ")", e);
    }
    if (found instanceof DataSource dataSource) {
      return dataSource;
    }
    throw new IllegalArgumentException("idempotency.jdbc.datasource must be the JNDI name of a "
        + "DataSource: '" + name + "' is bound to "
        + (found == null ? "null" : "a " + found.getClass().getName()));
  }
}
