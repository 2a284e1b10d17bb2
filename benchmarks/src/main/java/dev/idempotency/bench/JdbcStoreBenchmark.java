package dev.idempotency.bench;

import dev.idempotency.jdbc.JdbcStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoredResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The JDBC store against the machine's PostgreSQL, single thread, next to its floor: a first-time
 * request (acquire + complete) against two committed {@code INSERT … ON CONFLICT} round trips,
 * and a replay against one primary-key {@code SELECT}, both on plain JDBC over one connection;
 * beside them, {@link #floorInsertUpdateSameTable}.
 *
 * <p>PostgreSQL at {@code -Dbench.jdbc.url} (default {@code
 * jdbc:postgresql://127.0.0.1:5432/test}), user {@code -Dbench.jdbc.user} (default {@code
 * postgres}). Run: {@code java -jar benchmarks/target/benchmarks.jar JdbcStoreBenchmark}.
 * Not thread-safe: one JMH thread per state.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class JdbcStoreBenchmark {

  private static final Duration RETENTION = Duration.ofHours(24);
  private static final int REPLAY_KEYS = 1024;

  private final String url =
      System.getProperty("bench.jdbc.url", "jdbc:postgresql://127.0.0.1:5432/test");
  private final String user = System.getProperty("bench.jdbc.user", "postgres");

  private JdbcStore store;
  private StoredResponse response;
  private String[] replayKeys;
  private int next;
  private Connection floor;
  private PreparedStatement upsert;
  private PreparedStatement select;
  private PreparedStatement insertRecord;
  private PreparedStatement updateRecord;
  private byte[] floorValue;

  @Setup(Level.Trial)
  public void setUp() throws SQLException {
    store =
        JdbcStore.builder()
            .url(url)
            .user(user)
            .createSchema(true)
            .maximumPoolSize(2)
            .purgeInterval(Duration.ZERO)
            .build();
    response = StoreRequests.response();
    replayKeys = StoreRequests.completedKeys(store, "bench:replay:", REPLAY_KEYS, response,
        RETENTION);

    floor = DriverManager.getConnection(url, user, null);
    try (Statement s = floor.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS bench_floor (k text PRIMARY KEY, v bytea)");
    }
    upsert =
        floor.prepareStatement(
            "INSERT INTO bench_floor (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v");
    select = floor.prepareStatement("SELECT v FROM bench_floor WHERE k = ?");
    try (Statement s = floor.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS bench_floor_record (LIKE idempotency_record"
          + " INCLUDING ALL)");
    }
    insertRecord =
        floor.prepareStatement(
            "INSERT INTO bench_floor_record (key, request_hash, token, created_at, locked_at,"
                + " lock_expires_at, expires_at) VALUES (?, 'hash', 1, now(), now(),"
                + " now() + interval '30 seconds', now() + interval '24 hours')");
    updateRecord =
        floor.prepareStatement(
            "UPDATE bench_floor_record SET status = ?, headers = ?, body = ?, locked_at = NULL,"
                + " lock_expires_at = NULL WHERE key = ?");
    floorValue = response.body();
    for (String key : replayKeys) {
      upsert.setString(1, key);
      upsert.setBytes(2, floorValue);
      upsert.executeUpdate();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws SQLException {
    try (Statement s = floor.createStatement()) {
      s.execute("DELETE FROM idempotency_record WHERE key LIKE 'bench:%'");
      s.execute("DROP TABLE bench_floor");
      s.execute("DROP TABLE bench_floor_record");
    }
    floor.close();
    store.close();
  }

  /** A first-time request: the claim, then the stored response (two committed statements). */
  @Benchmark
  public boolean firstTime() {
    return StoreRequests.firstTime(store, "bench:first:" + UUID.randomUUID(), response,
        RETENTION);
  }

  /** A retried request: the acquire finds the completed record (one read-only statement). */
  @Benchmark
  public Acquisition replay() {
    next = (next + 1) & (REPLAY_KEYS - 1);
    return store.acquire(replayKeys[next], "hash", StoreRequests.LOCK, RETENTION);
  }

  /** The floor of a first-time request: two committed INSERT … ON CONFLICT round trips. */
  @Benchmark
  public int floorTwoUpserts() throws SQLException {
    String key = "bench:floor:" + UUID.randomUUID();
    upsert.setString(1, key);
    upsert.setBytes(2, null);
    int n = upsert.executeUpdate();
    upsert.setBytes(2, floorValue);
    return n + upsert.executeUpdate();
  }

  /**
   * A first-time request's writes as the plainest statements, on a copy of the store's table
   * (same columns and indexes): a committed {@code INSERT} of the in-flight row, then a committed
   * {@code UPDATE} storing the response that changes no indexed column (HOT, as the store's
   * {@code complete}). Not the floor (a plain {@code INSERT} cannot meet an existing
   * record): beside it, to tell the statements' cost from the table's.
   */
  @Benchmark
  public int floorInsertUpdateSameTable() throws SQLException {
    String key = "bench:floor:" + UUID.randomUUID();
    insertRecord.setString(1, key);
    int n = insertRecord.executeUpdate();
    updateRecord.setInt(1, response.status());
    updateRecord.setString(2, response.headersAsText());
    updateRecord.setBytes(3, response.body());
    updateRecord.setString(4, key);
    return n + updateRecord.executeUpdate();
  }

  /** The floor of a replay: one primary-key SELECT. */
  @Benchmark
  public int floorPrimaryKeySelect() throws SQLException {
    next = (next + 1) & (REPLAY_KEYS - 1);
    select.setString(1, replayKeys[next]);
    try (ResultSet rs = select.executeQuery()) {
      return rs.next() ? rs.getBytes(1).length : 0;
    }
  }
}
