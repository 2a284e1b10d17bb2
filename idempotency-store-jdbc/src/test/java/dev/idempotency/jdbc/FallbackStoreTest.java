package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.idempotency.ForwardingStore;
import dev.idempotency.MicrometerListener;
import dev.idempotency.TestClock;
import dev.idempotency.jdbc.FallbackStore.Breaker;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.Acquisition.InFlight;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import dev.idempotency.spi.StoreStatus;
import dev.idempotency.spi.StoredResponse;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** redis+jdbc against real servers that the tests kill and restart; the breaker's clock is fake. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FallbackStoreTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  private PostgresProcess pg;
  private RedisProcess redis;
  private final TestClock clock = new TestClock();
  private final AtomicInteger redisAcquires = new AtomicInteger();
  private RedisStore redisStore;
  private FallbackStore store;

  @BeforeAll
  void startServers() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start();
  }

  @AfterAll
  void stopServers() {
    redis.close();
    pg.close();
  }

  @AfterEach
  void closeStoreAndRestoreServers() {
    if (store != null) {
      store.close();
      store = null;
    }
    if (!redis.isRunning()) {
      redis.restart();
    }
    if (!pg.isRunning()) {
      pg.startAgain();
    }
  }

  private FallbackStore build() {
    return build(1_000);
  }

  private FallbackStore build(int mirrorQueueCapacity) {
    redisStore = RedisStore.builder(redis.uri()).build();
    IdempotencyStore counted =
        new ForwardingStore(redisStore) {
          @Override
          public Acquisition acquire(String key, String hash, Duration lock, Duration retention) {
            redisAcquires.incrementAndGet();
            return super.acquire(key, hash, lock, retention);
          }

          @Override
          public void close() {
            redisStore.close();
          }
        };
    JdbcStore jdbc =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
    store =
        FallbackStore.builder(counted, jdbc)
            .clock(clock)
            .mirrorQueueCapacity(mirrorQueueCapacity)
            .build();
    return store;
  }

  private static String key() {
    return "fallback:" + UUID.randomUUID();
  }

  private static StoredResponse response(String body) {
    return new StoredResponse(
        201, Map.of("Content-Type", List.of("text/plain")), body.getBytes(StandardCharsets.UTF_8));
  }

  private long acquired(Acquisition acquisition) {
    assertThat(acquisition).isInstanceOf(Acquired.class);
    return ((Acquired) acquisition).token();
  }

  private void completeNew(String key) {
    long token = acquired(store.acquire(key, "h", LOCK, RETENTION));
    assertThat(store.complete(key, token, response(key), RETENTION)).isTrue();
  }

  private void openBreakerByKillingRedis() {
    redis.kill();
    for (int i = 0; i < 3; i++) {
      acquired(store.acquire(key(), "h", LOCK, RETENTION));
    }
    assertThat(store.state().breaker()).isEqualTo(Breaker.OPEN);
  }

  /** Restarts Redis and lets probes run (one per cool-down of the fake clock) until one passes. */
  private void bringRedisBack() {
    redis.restart();
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              clock.advance(Duration.ofSeconds(1));
              store.acquire(key(), "h", LOCK, RETENTION);
              return store.state().breaker() == Breaker.CLOSED;
            });
    assertThat(store.state().serving()).isEqualTo("redis");
  }

  @Test
  void servesFromJdbcWhenRedisDiesAndSkipsRedisWhileTheBreakerIsOpen() {
    build();
    completeNew(key());
    assertThat(store.state().serving()).isEqualTo("redis");
    int before = redisAcquires.get();

    redis.kill();
    for (int i = 0; i < 20; i++) {
      acquired(store.acquire(key(), "h", LOCK, RETENTION));
    }

    assertThat(redisAcquires.get() - before).as("calls that paid for Redis").isEqualTo(3);
    FallbackStore.State state = store.state();
    assertThat(state.breaker()).isEqualTo(Breaker.OPEN);
    assertThat(state.serving()).isEqualTo("jdbc");
    assertThat(state.fallbacks()).isEqualTo(20);
  }

  @Test
  void statusAndTheFallbackCounterShowJdbcServingWhileRedisIsDown() {
    build();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MicrometerListener listener = new MicrometerListener(registry);
    listener.storeOpened(store);
    completeNew(key());
    assertThat(store.status())
        .isEqualTo(new StoreStatus("redis", StoreStatus.Breaker.CLOSED, 0));

    redis.kill();
    for (int i = 0; i < 5; i++) {
      acquired(store.acquire(key(), "h", LOCK, RETENTION));
    }

    assertThat(store.status()).isEqualTo(new StoreStatus("jdbc", StoreStatus.Breaker.OPEN, 5));
    assertThat(registry.get("idempotency.fallback").functionCounter().count()).isEqualTo(5);
    // A store the filter let go of keeps its count: the counter never goes down.
    listener.storeClosed(store);
    assertThat(registry.get("idempotency.fallback").functionCounter().count()).isEqualTo(5);
  }

  @Test
  void afterTheCoolDownOneProbeAtATimeBringsTrafficBackToRedis() {
    build();
    openBreakerByKillingRedis();
    int before = redisAcquires.get();
    clock.advance(Duration.ofMillis(999));
    acquired(store.acquire(key(), "h", LOCK, RETENTION));
    assertThat(redisAcquires.get()).as("no probe before the cool-down").isEqualTo(before);

    clock.advance(Duration.ofMillis(1));
    acquired(store.acquire(key(), "h", LOCK, RETENTION));
    assertThat(redisAcquires.get()).as("one failed probe").isEqualTo(before + 1);
    assertThat(store.state().breaker()).isEqualTo(Breaker.OPEN);

    bringRedisBack();
    int onRedis = redisAcquires.get();
    acquired(store.acquire(key(), "h", LOCK, RETENTION));
    assertThat(redisAcquires.get()).isEqualTo(onRedis + 1);
  }

  @Test
  void recordsCompletedBeforeRedisDiedAreReplayedFromTheMirror() {
    build();
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      keys.add(key());
      completeNew(keys.get(i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 20);
    assertThat(store.state().mirrorPending()).isZero();
    assertThat(store.state().maxMirrorLag()).isPositive();

    redis.kill();
    for (String key : keys) {
      assertThat(store.acquire(key, "h", LOCK, RETENTION))
          .isEqualTo(new Completed(response(key)));
      assertThat(store.acquire(key, "other", LOCK, RETENTION))
          .isInstanceOf(Acquisition.Mismatch.class);
    }
  }

  @Test
  void aClaimMadeOnRedisIsCompletedIntoJdbcWhenRedisDiesWhileItsRequestRuns() {
    build();
    String key = key();
    long token = acquired(store.acquire(key, "h", LOCK, RETENTION));

    redis.kill();
    assertThat(store.complete(key, token, response("late"), RETENTION)).isTrue();

    assertThat(store.acquire(key, "h", LOCK, RETENTION)).isEqualTo(new Completed(response("late")));
    assertThat(store.state().rescued()).isEqualTo(1);
  }

  @Test
  void anOwnerWhoseLockRanOutCannotStoreItsResponseInJdbcOverTheOwnerWhoTookTheKeyOver() {
    build();
    String key = key();
    Duration shortLock = Duration.ofSeconds(1);
    long stale = acquired(store.acquire(key, "h", shortLock, RETENTION));
    // The first owner stops renewing; once Redis judges its lock stale a retry takes the key
    // (with a lock of its own long enough to outlast the rest of the test).
    Acquisition[] takeover = {null};
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> (takeover[0] = store.acquire(key, "h", LOCK, RETENTION))
            instanceof Acquired);
    assertThat(((Acquired) takeover[0]).recovered()).isTrue();
    long owner = ((Acquired) takeover[0]).token();

    redis.kill();
    assertThatThrownBy(() -> store.complete(key, stale, response("stale owner"), RETENTION))
        .as("the first owner's complete, Redis dead: failed, for the filter to retry on Redis")
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("not stored in jdbc");
    assertThat(store.complete(key, owner, response("owner"), RETENTION))
        .as("the new owner's complete, Redis dead")
        .isTrue();

    assertThat(store.acquire(key, "h", LOCK, RETENTION))
        .isEqualTo(new Completed(response("owner")));
  }

  @Test
  void purgeThatCannotReachRedisSaysSoInsteadOfReportingThePurge() {
    build();
    String key = key();
    completeNew(key);
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 1);

    redis.kill();
    assertThatThrownBy(() -> store.purge(key))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("done on jdbc, but redis failed");
  }

  @Test
  void purgeThatCannotReachJdbcSaysSoAndPurgingAgainRemovesTheRecordFromBoth() {
    build();
    String key = key();
    completeNew(key);
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 1);

    pg.kill();
    assertThatThrownBy(() -> store.purge(key))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("done on redis, but jdbc failed");
    pg.startAgain();
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(() -> {
          clock.advance(Duration.ofSeconds(1));
          return store.purge(key);
        });

    long token = acquired(store.acquire(key, "h", LOCK, RETENTION));
    assertThat(store.complete(key, token, response("after the purge"), RETENTION)).isTrue();
  }

  @Test
  void aKeyCompletedOnJdbcIsReplayedThoughRedisHoldsAClaimNobodyWillFinish() {
    build();
    String key = key();
    // An acquire that timed out while Redis was paused ran when it resumed: a claim on Redis
    // that no request holds. Meanwhile the request completed on JDBC.
    assertThat(redisStore.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquired.class);
    try (JdbcStore otherJvm =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build()) {
      long token = acquired(otherJvm.acquire(key, "h", LOCK, RETENTION));
      assertThat(otherJvm.complete(key, token, response("done on jdbc"), RETENTION)).isTrue();
    }

    assertThat(store.acquire(key, "h", LOCK, RETENTION))
        .isEqualTo(new Completed(response("done on jdbc")));
  }

  @Test
  void recordsStillOnTheirWayToJdbcAreReplayedWhenRedisComesBackEmpty() throws Exception {
    build();
    try (Connection blocker = pg.dataSource().getConnection()) {
      // Writes to the table wait (reads do not): the copies stay in the mirror queue.
      blocker.setAutoCommit(false);
      try (java.sql.Statement s = blocker.createStatement()) {
        s.execute("LOCK TABLE idempotency_record IN EXCLUSIVE MODE");
      }
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        keys.add(key());
        completeNew(keys.get(i));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrorPending() == 5);

      redis.kill();
      redis.restart();
      await()
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(50))
          .ignoreExceptions()
          .until(() -> redisStore.inspect(key()).isEmpty());
      assertThat(store.state().breaker()).isEqualTo(Breaker.CLOSED);

      for (String key : keys) {
        assertThat(store.acquire(key, "h", LOCK, RETENTION))
            .isEqualTo(new Completed(response(key)));
      }
      // And Redis has them again.
      for (String key : keys) {
        assertThat(redisStore.acquire(key, "h", LOCK, RETENTION))
            .isEqualTo(new Completed(response(key)));
      }
      blocker.rollback();
    }
  }

  @Test
  void whatCompletedOnJdbcDuringTheOutageIsReplayedAfterRedisReturnsEmptyAndCopiedBack() {
    build();
    openBreakerByKillingRedis();
    String done = key();
    completeNew(done);
    String running = key();
    long runningToken = acquired(store.acquire(running, "h", LOCK, RETENTION));

    bringRedisBack();
    assertThat(store.acquire(done, "h", LOCK, RETENTION)).isEqualTo(new Completed(response(done)));
    assertThat(redisStore.inspect(done)).get().extracting(RecordInfo::state)
        .isEqualTo(RecordInfo.State.COMPLETED);
    assertThat(store.acquire(running, "h", LOCK, RETENTION)).isInstanceOf(InFlight.class);
    assertThat(redisStore.inspect(running)).as("the claim made on Redis is let go").isEmpty();

    // The token came from JDBC, so it completes there although Redis serves again.
    assertThat(store.complete(running, runningToken, response(running), RETENTION)).isTrue();
    assertThat(store.acquire(running, "h", LOCK, RETENTION))
        .isEqualTo(new Completed(response(running)));
  }

  @Test
  void recordsMirroredBeforeRedisLostItsDataAreReplayedOnceItIsBack() {
    build();
    String key = key();
    completeNew(key);
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 1);

    redis.kill();
    redis.restart();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> redisStore.inspect(key).isEmpty());
    assertThat(store.acquire(key, "h", LOCK, RETENTION)).isEqualTo(new Completed(response(key)));
  }

  @Test
  void bothStoresDownFailsWithAStoreExceptionAndThenFailsFast() {
    build();
    redis.kill();
    pg.kill();
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> store.acquire(key(), "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("both stores unavailable");
    }
    assertThat(store.state().breaker()).isEqualTo(Breaker.OPEN);
    assertThat(store.state().jdbcBreaker()).isEqualTo(Breaker.OPEN);

    long started = System.nanoTime();
    for (int i = 0; i < 100; i++) {
      assertThatThrownBy(() -> store.acquire(key(), "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class);
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started))
        .as("100 calls with both breakers open")
        .isLessThan(Duration.ofMillis(500));
  }

  @Test
  void aFullMirrorQueueDropsCompletedRecordsAndCountsThem() throws Exception {
    build(1);
    String blocker = key();
    try (Connection tx = pg.dataSource().getConnection()) {
      tx.setAutoCommit(false);
      try (PreparedStatement s =
          tx.prepareStatement(
              "INSERT INTO idempotency_record (key, request_hash, token, created_at, locked_at,"
                  + " lock_expires_at, expires_at) VALUES (?, 'x', 1, now(), now(), now(),"
                  + " now() + interval '1 hour')")) {
        s.setString(1, blocker);
        s.executeUpdate();
      }
      // The mirror of this key waits for the uncommitted row above, holding the queue's only slot
      // behind it.
      completeNew(blocker);
      await().atMost(Duration.ofSeconds(5)).until(() -> store.state().mirrorPending() == 1);
      completeNew(key());
      completeNew(key());
      completeNew(key());
      assertThat(store.state().mirrorDropped()).isEqualTo(2);
      tx.rollback();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 2);
    assertThat(store.state().mirrorPending()).isZero();
  }

  @Test
  void fingerprintRecordsAreNotMirrored() {
    build();
    String key = key();
    long token = acquired(store.acquire(key, "h", LOCK, Duration.ofMillis(100)));
    assertThat(store.complete(key, token, response(key), Duration.ofMillis(100))).isTrue();
    completeNew(key());
    await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrored() == 1);
    assertThat(store.state().mirrorDropped()).isZero();
  }

  @Test
  void providerNamedRedisPlusJdbcStartsWhileRedisIsDownAndMovesToRedisWhenItComes()
      throws Exception {
    int port = RedisProcess.freePort(false);
    StoreSettings settings =
        new StoreSettings(
            "redis://127.0.0.1:" + port, pg.jdbcUrl(), pg.user(), null, true, LOCK);
    StoreProvider provider =
        ServiceLoader.load(StoreProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(p -> p.name().equals("redis+jdbc"))
            .findFirst()
            .orElseThrow();
    try (FallbackStore fromSettings = (FallbackStore) provider.create(settings)) {
      assertThat(fromSettings.name()).isEqualTo("redis+jdbc");
      String early = key();
      long token = acquired(fromSettings.acquire(early, "h", LOCK, RETENTION));
      assertThat(fromSettings.complete(early, token, response(early), RETENTION)).isTrue();

      try (RedisProcess late = RedisProcess.start(port, List.of())) {
        await()
            .atMost(Duration.ofSeconds(20))
            .pollInterval(Duration.ofMillis(100))
            .until(
                () -> {
                  fromSettings.acquire(key(), "h", LOCK, RETENTION);
                  return fromSettings.state().breaker() == Breaker.CLOSED;
                });
        assertThat(fromSettings.acquire(early, "h", LOCK, RETENTION))
            .isEqualTo(new Completed(response(early)));
      }
    }
  }
}
