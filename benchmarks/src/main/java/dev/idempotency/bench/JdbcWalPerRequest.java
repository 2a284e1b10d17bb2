package dev.idempotency.bench;

import dev.idempotency.jdbc.JdbcStore;
import dev.idempotency.spi.StoredResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

/**
 * PostgreSQL WAL bytes per first-time request of the JDBC store (acquire + complete) and per
 * floor pair (two committed {@code INSERT … ON CONFLICT} on a two-column table), from
 * {@code pg_current_wal_lsn()} around each block of requests: a count, not a timing, so the
 * machine's load does not move it. Also the share of the store's updates that were HOT
 * ({@code pg_stat_user_tables}, as far as the server has flushed its statistics).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.idempotency.bench.JdbcWalPerRequest
 * [requests]} (default 5000 per block, three blocks of each), against {@code -Dbench.jdbc.url}
 * (default {@code jdbc:postgresql://127.0.0.1:5432/test}) as {@code -Dbench.jdbc.user} (default
 * {@code postgres}). Another writer on the same server adds its WAL to the figures.
 */
public final class JdbcWalPerRequest {

  private static final Duration RETENTION = Duration.ofHours(24);

  private JdbcWalPerRequest() {}

  public static void main(String[] args) throws SQLException {
    int requests = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
    String url = System.getProperty("bench.jdbc.url", "jdbc:postgresql://127.0.0.1:5432/test");
    String user = System.getProperty("bench.jdbc.user", "postgres");
    StoredResponse response = StoreRequests.response();
    String prefix = "bench:wal:" + UUID.randomUUID() + ":";
    try (JdbcStore store =
            JdbcStore.builder()
                .url(url)
                .user(user)
                .createSchema(true)
                .maximumPoolSize(1)
                .purgeInterval(Duration.ZERO)
                .build();
        Connection c = DriverManager.getConnection(url, user, null);
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS bench_wal_floor (k text PRIMARY KEY, v bytea)");
      long hotBefore = hotUpdates(s)[1];
      long updatesBefore = hotUpdates(s)[0];
      try (PreparedStatement upsert =
          c.prepareStatement(
              "INSERT INTO bench_wal_floor (k, v) VALUES (?, ?)"
                  + " ON CONFLICT (k) DO UPDATE SET v = excluded.v")) {
        for (int block = 0; block < 3; block++) {
          long start = walBytes(s);
          for (int i = 0; i < requests; i++) {
            StoreRequests.firstTime(store, prefix + block + ":" + i, response, RETENTION);
          }
          long afterStore = walBytes(s);
          for (int i = 0; i < requests; i++) {
            upsert.setString(1, prefix + block + ":" + i);
            upsert.setBytes(2, null);
            upsert.executeUpdate();
            upsert.setBytes(2, response.body());
            upsert.executeUpdate();
          }
          long afterFloor = walBytes(s);
          System.out.printf(
              "block %d: first-time request %.0f WAL bytes; two upserts %.0f%n",
              block,
              (afterStore - start) / (double) requests,
              (afterFloor - afterStore) / (double) requests);
        }
      } finally {
        long[] after = hotUpdates(s);
        System.out.printf(
            "idempotency_record updates counted so far: %d, HOT: %d%n",
            after[0] - updatesBefore, after[1] - hotBefore);
        s.execute("DELETE FROM idempotency_record WHERE key LIKE 'bench:wal:%'");
        s.execute("DROP TABLE bench_wal_floor");
      }
    }
  }

  private static long walBytes(Statement s) throws SQLException {
    try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** {n_tup_upd, n_tup_hot_upd} of the store's table. */
  private static long[] hotUpdates(Statement s) throws SQLException {
    try (ResultSet rs =
        s.executeQuery(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                + " WHERE relname = 'idempotency_record'")) {
      return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2)} : new long[] {0, 0};
    }
  }
}
