package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.Acquisition.InFlight;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class JdbcStoreTest extends IdempotencyStoreContract {

  private PostgresProcess pg;
  private JdbcStore store;
  private JdbcStore secondStore;

  @BeforeAll
  void startPostgres() {
    pg = PostgresProcess.start();
    store = storeOn(pg.jdbcUrl()).createSchema(true).build();
    secondStore = storeOn(pg.jdbcUrl()).createSchema(true).build();
  }

  @AfterAll
  void stopPostgres() {
    store.close();
    secondStore.close();
    pg.close();
  }

  private JdbcStore.Builder storeOn(String url) {
    return JdbcStore.builder().url(url).user(pg.user()).maximumPoolSize(16);
  }

  @Override
  protected IdempotencyStore store() {
    return store;
  }

  @Override
  protected IdempotencyStore secondStore() {
    return secondStore;
  }

  // Without the table every request would run unprotected, each with a WARN.
  @Test
  void aDatabaseWithoutTheTableIsRefusedAtStartUpUnlessTheStoreCreatesIt() throws Exception {
    String empty = "no_table_" + UUID.randomUUID().toString().replace("-", "");
    try (java.sql.Connection c = pg.dataSource().getConnection();
        java.sql.Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + empty);
    }
    String url = pg.jdbcUrl().replace("/postgres", "/" + empty);
    assertThatThrownBy(() -> storeOn(url).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("no table idempotency_record")
        .hasMessageContaining("idempotency.jdbc.create-schema=true");
    // A store given its DataSource (idempotency.jdbc.datasource: the container's pool) too.
    org.postgresql.ds.PGSimpleDataSource given = new org.postgresql.ds.PGSimpleDataSource();
    given.setUrl(url);
    given.setUser(pg.user());
    assertThatThrownBy(() -> JdbcStore.builder().dataSource(given).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("no table idempotency_record in the given DataSource");
    try (JdbcStore created = storeOn(url).createSchema(true).build();
        JdbcStore existing = storeOn(url).build()) {
      assertThat(existing.acquire("k", "h", LONG, RETENTION)).isInstanceOf(Acquired.class);
    }
  }

  @Test
  void twoInstancesRacingOnAThousandKeysHaveExactlyOneWinnerEach() throws Exception {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      keys.add("race:" + UUID.randomUUID());
    }
    Map<String, AtomicInteger> winners = new ConcurrentHashMap<>();
    Map<String, Long> tokens = new ConcurrentHashMap<>();
    ExecutorService threads = Executors.newFixedThreadPool(8);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      JdbcStore s = t % 2 == 0 ? store : secondStore;
      done.add(
          threads.submit(
              () -> {
                start.await();
                for (String key : keys) {
                  Acquisition a = s.acquire(key, "h", LONG, RETENTION);
                  if (a instanceof Acquired acquired) {
                    winners.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                    tokens.put(key, acquired.token());
                    assertThat(s.complete(key, acquired.token(), response(200, key), RETENTION))
                        .isTrue();
                  } else if (a instanceof Completed completed) {
                    assertThat(completed.response()).isEqualTo(response(200, key));
                  } else {
                    assertThat(a).isInstanceOf(InFlight.class);
                  }
                }
                return null;
              }));
    }
    start.countDown();
    for (Future<?> f : done) {
      f.get(120, TimeUnit.SECONDS);
    }
    threads.shutdown();
    assertThat(winners).hasSize(1000);
    assertThat(winners.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    for (String key : keys) {
      assertThat(secondStore.acquire(key, "h", LONG, RETENTION))
          .isEqualTo(new Completed(response(200, key)));
    }
  }

  @Test
  void acquireThatLosesTheRaceAfterItsSnapshotReportsTheWinner() throws Exception {
    String inFlight = "lost-race:" + UUID.randomUUID();
    String otherHash = "lost-race:" + UUID.randomUUID();
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try (Connection winner = pg.dataSource().getConnection()) {
      winner.setAutoCommit(false);
      insertInFlight(winner, inFlight, "h1");
      insertInFlight(winner, otherHash, "h1");
      // The acquires take their snapshots now (no row), then wait on the winner's insert.
      Future<Acquisition> sameHash =
          thread.submit(() -> store.acquire(inFlight, "h1", LONG, RETENTION));
      awaitBlockedBackends(1);
      Future<Acquisition> mismatch =
          Executors.newSingleThreadExecutor()
              .submit(() -> secondStore.acquire(otherHash, "h2", LONG, RETENTION));
      awaitBlockedBackends(2);
      winner.commit();

      Acquisition first = sameHash.get(10, TimeUnit.SECONDS);
      assertThat(first).isInstanceOf(InFlight.class);
      assertThat(((InFlight) first).lockExpiresIn()).isPositive();
      assertThat(mismatch.get(10, TimeUnit.SECONDS)).isInstanceOf(Acquisition.Mismatch.class);
    } finally {
      thread.shutdownNow();
    }
  }

  @Test
  void onARepeatableReadPoolAClaimThatLosesTheRaceAfterItsSnapshotReportsTheWinner()
      throws Exception {
    assertLosingClaimReportsTheWinner("TRANSACTION_REPEATABLE_READ", true);
  }

  @Test
  void onASerializablePoolOutsideAutocommitAClaimThatLosesTheRaceReportsTheWinner()
      throws Exception {
    assertLosingClaimReportsTheWinner("TRANSACTION_SERIALIZABLE", false);
  }

  // A standby refuses every claim (an INSERT, even when it writes nothing): what it holds still
  // answers, read-only, and only a key it does not hold is the caller's fail-mode.
  @Test
  void aReadOnlyDatabaseStillAnswersWhatItHolds() throws Exception {
    String database = "read_only_" + UUID.randomUUID().toString().replace("-", "");
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + database);
    }
    String url = pg.jdbcUrl().replace("/postgres", "/" + database);
    String done = "done:" + UUID.randomUUID();
    String running = "running:" + UUID.randomUUID();
    try (JdbcStore writable = storeOn(url).createSchema(true).build()) {
      long token = ((Acquired) writable.acquire(done, "h", LONG, RETENTION)).token();
      assertThat(writable.complete(done, token, response(201, "{}"), RETENTION)).isTrue();
      writable.acquire(running, "h", LONG, RETENTION);
    }
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("ALTER DATABASE " + database + " SET default_transaction_read_only = on");
    }
    try (JdbcStore standby = storeOn(url).build()) {
      assertThat(standby.acquire(done, "h", LONG, RETENTION))
          .isEqualTo(new Completed(response(201, "{}")));
      assertThat(standby.acquire(done, "other", LONG, RETENTION)).isEqualTo(Acquisition.MISMATCH);
      assertThat(standby.acquire(running, "h", LONG, RETENTION)).isInstanceOf(InFlight.class);
      assertThatThrownBy(() -> standby.acquire("new:" + UUID.randomUUID(), "h", LONG, RETENTION))
          .isInstanceOf(StoreException.class).hasMessageContaining("read-only");
    }
  }

  // Outside autocommit, work that is not committed is rolled back when the connection goes back
  // to the pool: a purge said it deleted and the record stayed.
  @Test
  void onAPoolOutsideAutocommitPurgesAreCommitted() throws Exception {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(pg.jdbcUrl());
    config.setUsername(pg.user());
    config.setMaximumPoolSize(2);
    config.setAutoCommit(false);
    try (HikariDataSource applicationPool = new HikariDataSource(config);
        JdbcStore onPool = JdbcStore.builder().dataSource(applicationPool)
            .purgeInterval(Duration.ZERO).build()) {
      String purged = "purge:" + UUID.randomUUID();
      long token = ((Acquired) onPool.acquire(purged, "h", LONG, RETENTION)).token();
      assertThat(onPool.complete(purged, token, response(200, "{}"), RETENTION)).isTrue();
      assertThat(onPool.purge(purged)).isTrue();
      assertThat(queryLong("SELECT count(*) FROM idempotency_record WHERE key = '" + purged + "'"))
          .as("rows left after a purge that reported success").isZero();

      String expired = "expired:" + UUID.randomUUID();
      token = ((Acquired) onPool.acquire(expired, "h", LONG, RETENTION)).token();
      onPool.complete(expired, token, response(200, "{}"), Duration.ofMillis(1));
      await().atMost(Duration.ofSeconds(5)).until(() -> onPool.inspect(expired).isEmpty());
      onPool.purgeExpired();
      assertThat(queryLong("SELECT count(*) FROM idempotency_record WHERE key = '" + expired + "'"))
          .as("an expired row left after the purge").isZero();
    }
  }

  /** An application's pool at another isolation level: PostgreSQL fails the claim (40001). */
  private void assertLosingClaimReportsTheWinner(String isolation, boolean autoCommit)
      throws Exception {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(pg.jdbcUrl());
    config.setUsername(pg.user());
    config.setMaximumPoolSize(2);
    config.setTransactionIsolation(isolation);
    config.setAutoCommit(autoCommit);
    String key = "isolation:" + UUID.randomUUID();
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try (HikariDataSource applicationPool = new HikariDataSource(config);
        JdbcStore onPool = JdbcStore.builder().dataSource(applicationPool).build();
        Connection winner = pg.dataSource().getConnection()) {
      winner.setAutoCommit(false);
      insertInFlight(winner, key, "h1");
      Future<Acquisition> loser = thread.submit(() -> onPool.acquire(key, "h1", LONG, RETENTION));
      awaitBlockedBackends(1);
      winner.commit();

      assertThat(loser.get(10, TimeUnit.SECONDS)).isInstanceOf(InFlight.class);
    } finally {
      thread.shutdownNow();
    }
  }

  private static void insertInFlight(Connection c, String key, String hash) throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement(
            "INSERT INTO idempotency_record (key, request_hash, token, created_at, locked_at,"
                + " lock_expires_at, expires_at) VALUES (?, ?, 1, now(), now(),"
                + " now() + interval '30 seconds', now() + interval '1 hour')")) {
      s.setString(1, key);
      s.setString(2, hash);
      s.executeUpdate();
    }
  }

  private void awaitBlockedBackends(int count) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                queryLong(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            + " AND query LIKE '%current_record%'")
                    >= count);
  }

  @Test
  void replayIsReadOnly() throws SQLException {
    String key = "read-only:" + UUID.randomUUID();
    long token = ((Acquired) store.acquire(key, "h1", LONG, RETENTION)).token();
    store.complete(key, token, response(200, "done"), RETENTION);
    String versionBefore = rowVersion(key);

    for (int i = 0; i < 3; i++) {
      assertThat(secondStore.acquire(key, "h1", LONG, RETENTION)).isInstanceOf(Completed.class);
      assertThat(secondStore.acquire(key, "h2", LONG, RETENTION))
          .isInstanceOf(Acquisition.Mismatch.class);
    }
    assertThat(rowVersion(key)).isEqualTo(versionBefore);
  }

  @Test
  void replayNeitherLocksNorWaitsForALockedRow() throws Exception {
    String key = "no-lock:" + UUID.randomUUID();
    long token = ((Acquired) store.acquire(key, "h1", LONG, RETENTION)).token();
    store.complete(key, token, response(200, "done"), RETENTION);

    try (Connection holder = pg.dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (PreparedStatement s =
          holder.prepareStatement("SELECT 1 FROM idempotency_record WHERE key = ? FOR UPDATE")) {
        s.setString(1, key);
        s.executeQuery().close();
      }
      // An INSERT … ON CONFLICT reaching the live row would wait here for the holder's lock.
      ExecutorService thread = Executors.newSingleThreadExecutor();
      try {
        Future<Acquisition> replay =
            thread.submit(() -> secondStore.acquire(key, "h1", LONG, RETENTION));
        assertThat(replay.get(5, TimeUnit.SECONDS)).isInstanceOf(Completed.class);
      } finally {
        thread.shutdownNow();
        holder.rollback();
      }
    }
  }

  @Test
  void completeWithinTheLockKeepsTheClaimsExpiryAndIndexesNothing() throws SQLException {
    long hotBefore = hotUpdates();
    int completes = 20;
    String prefix = "hot:" + UUID.randomUUID() + ":";
    // A store of its own: closing its pool ends its backends, which flushes their statistics
    // (an idle backend may hold them up to 10 s).
    try (JdbcStore own = storeOn(pg.jdbcUrl()).maximumPoolSize(1).build()) {
      for (int i = 0; i < completes; i++) {
        long token = ((Acquired) own.acquire(prefix + i, "h1", LONG, RETENTION)).token();
        assertThat(own.complete(prefix + i, token, response(201, "done"), RETENTION)).isTrue();
        assertThat(millisAfterTheClaim(prefix + i)).isEqualTo(RETENTION.toMillis());
      }
    }
    // A HOT update adds no index entry; the table's statistics count them. One whose new version
    // finds its page full is not HOT (3 % of them in JdbcWalPerRequest), so not all 20 need be.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> hotUpdates() - hotBefore >= completes / 2);
  }

  @Test
  void completeAfterMoreThanALockTimeoutKeepsTheRecordOneRetentionFromNow() throws SQLException {
    String key = "slow:" + UUID.randomUUID();
    long token = ((Acquired) store.acquire(key, "h1", LONG, RETENTION)).token();
    // As if the claim were 31 s old: the lock went stale and nobody took the key over.
    ageTheClaim(key, 31);

    assertThat(store.complete(key, token, response(201, "done"), RETENTION)).isTrue();

    assertThat(millisAfterTheClaim(key))
        .isGreaterThanOrEqualTo(RETENTION.plusSeconds(31).toMillis());
    assertThat(store.acquire(key, "h1", LONG, RETENTION)).isInstanceOf(Completed.class);
  }

  @Test
  void withARetentionAsShortAsTheLockAResponseIsStillKeptOneRetentionAfterItsCompletion()
      throws SQLException {
    String key = "short-retention:" + UUID.randomUUID();
    Duration retention = LONG;
    long token = ((Acquired) store.acquire(key, "h1", LONG, retention)).token();
    // As if the request had run 20 s of its 30 s lock: the claim's expiry, claim + retention,
    // would keep the response only 10 s.
    ageTheClaim(key, 20);

    assertThat(store.complete(key, token, response(201, "done"), retention)).isTrue();

    assertThat(millisAfterTheClaim(key))
        .isGreaterThanOrEqualTo(retention.plusSeconds(20).toMillis());
  }

  /** Moves every time of the key's record {@code seconds} into the past. */
  private void ageTheClaim(String key, int seconds) throws SQLException {
    String ago = " - interval '" + seconds + " seconds'";
    execute("UPDATE idempotency_record SET created_at = created_at" + ago
        + ", locked_at = locked_at" + ago + ", lock_expires_at = lock_expires_at" + ago
        + ", expires_at = expires_at" + ago + " WHERE key = '" + key + "'");
  }

  private long millisAfterTheClaim(String key) throws SQLException {
    return queryLong(
        "SELECT CAST(extract(epoch FROM expires_at - created_at) * 1000 AS bigint)"
            + " FROM idempotency_record WHERE key = '" + key + "'");
  }

  private long hotUpdates() throws SQLException {
    return queryLong(
        "SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'idempotency_record'");
  }

  private void execute(String sql) throws SQLException {
    try (Connection c = pg.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate(sql);
    }
  }

  /** The row's physical version: a write of any kind (even a no-op update) changes it. */
  private String rowVersion(String key) throws SQLException {
    try (Connection c = pg.dataSource().getConnection();
        PreparedStatement s =
            c.prepareStatement(
                "SELECT ctid::text || '/' || xmin::text FROM idempotency_record WHERE key = ?")) {
      s.setString(1, key);
      try (ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  @Test
  void backgroundPurgeDeletesExpiredRowsInBatchesAndKeepsLiveOnes() {
    String prefix = "purge:" + UUID.randomUUID() + ":";
    try (JdbcStore purging =
        storeOn(pg.jdbcUrl()).purgeInterval(Duration.ofMillis(200)).purgeBatchSize(10).build()) {
      for (int i = 0; i < 35; i++) {
        String key = prefix + i;
        long token = ((Acquired) purging.acquire(key, "h", LONG, RETENTION)).token();
        purging.complete(key, token, response(200, "x"), Duration.ofMillis(1));
      }
      purging.acquire(prefix + "live-lock", "h", LONG, RETENTION);
      long token = ((Acquired) purging.acquire(prefix + "live", "h", LONG, RETENTION)).token();
      purging.complete(prefix + "live", token, response(200, "x"), RETENTION);

      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rowsWithPrefix(prefix) == 2);
      assertThat(store.inspect(prefix + "live")).isPresent();
      assertThat(store.inspect(prefix + "live-lock")).isPresent();
    }
  }

  @Test
  void purgeExpiredRunsBoundedBatchesUntilNothingIsLeft() throws SQLException {
    String prefix = "purge-now:" + UUID.randomUUID() + ":";
    try (JdbcStore purging =
        storeOn(pg.jdbcUrl()).purgeInterval(Duration.ZERO).purgeBatchSize(10).build()) {
      for (int i = 0; i < 25; i++) {
        String key = prefix + i;
        long token = ((Acquired) purging.acquire(key, "h", LONG, RETENTION)).token();
        purging.complete(key, token, response(200, "x"), Duration.ofMillis(1));
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> store.inspect(prefix + 24).isEmpty());
      assertThat(purging.purgeExpired()).isGreaterThanOrEqualTo(25);
      assertThat(rowsWithPrefix(prefix)).isZero();
    }
  }

  private long rowsWithPrefix(String prefix) throws SQLException {
    try (Connection c = pg.dataSource().getConnection();
        PreparedStatement s =
            c.prepareStatement("SELECT count(*) FROM idempotency_record WHERE key LIKE ?")) {
      s.setString(1, prefix + "%");
      try (ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private long queryLong(String sql) throws SQLException {
    try (Connection c = pg.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Test
  void storeBuiltOnTheApplicationsDataSourceNeverClosesIt() throws SQLException {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(pg.jdbcUrl());
    config.setUsername(pg.user());
    config.setMaximumPoolSize(2);
    try (HikariDataSource applicationPool = new HikariDataSource(config)) {
      JdbcStore onPool = JdbcStore.builder().dataSource(applicationPool).build();
      String key = "app-pool:" + UUID.randomUUID();
      assertThat(onPool.acquire(key, "h", LONG, RETENTION)).isInstanceOf(Acquired.class);
      onPool.close();

      assertThat(applicationPool.isClosed()).isFalse();
      try (Connection c = applicationPool.getConnection();
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT 1")) {
        assertThat(rs.next()).isTrue();
      }
    }
  }

  @Test
  void schemaCreationIsIdempotentAndSafeFromSeveralJvmsAtOnce() throws Exception {
    String database = "schema_" + UUID.randomUUID().toString().replace("-", "");
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + database);
    }
    String url = "jdbc:postgresql://127.0.0.1:" + pg.port() + "/" + database;
    ExecutorService threads = Executors.newFixedThreadPool(4);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<JdbcStore>> built = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      built.add(
          threads.submit(
              () -> {
                start.await();
                return storeOn(url).maximumPoolSize(1).createSchema(true).build();
              }));
    }
    start.countDown();
    for (Future<JdbcStore> f : built) {
      try (JdbcStore s = f.get(30, TimeUnit.SECONDS)) {
        assertThat(s.acquire("schema:" + UUID.randomUUID(), "h", LONG, RETENTION))
            .isInstanceOf(Acquired.class);
      }
    }
    threads.shutdown();
  }

  @Test
  void providerNamedJdbcBuildsAWorkingStoreFromSettings() {
    StoreProvider provider =
        ServiceLoader.load(StoreProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(p -> p.name().equals("jdbc"))
            .findFirst()
            .orElseThrow();
    StoreSettings settings =
        new StoreSettings(null, pg.jdbcUrl(), pg.user(), null, true, Duration.ofSeconds(30));
    try (IdempotencyStore fromSettings = provider.create(settings)) {
      assertThat(fromSettings.name()).isEqualTo("jdbc");
      assertThat(fromSettings.acquire("provider:" + UUID.randomUUID(), "h", LONG, RETENTION))
          .isInstanceOf(Acquired.class);
    }
  }

  @Test
  void unreachableDatabaseAtStartUpNamesTheUrlButNotThePassword() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    String url = "jdbc:postgresql://127.0.0.1:" + closedPort + "/app?password=s3cret";
    StoreSettings settings =
        new StoreSettings(null, url, "app", "hunter2", false, Duration.ofSeconds(30));
    long started = System.nanoTime();
    assertThatThrownBy(() -> new JdbcStoreProvider().create(settings))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("127.0.0.1:" + closedPort + "/app")
        .hasMessageNotContaining("s3cret")
        .hasMessageNotContaining("hunter2");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void invalidSettingsNameTheSetting() {
    assertThatThrownBy(() -> JdbcStore.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idempotency.jdbc.url");
    assertThatThrownBy(() -> JdbcStore.builder().url("jdbc:mysql://127.0.0.1/x").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idempotency.jdbc.url")
        .hasMessageContaining("jdbc:mysql://127.0.0.1/x");
  }
}
