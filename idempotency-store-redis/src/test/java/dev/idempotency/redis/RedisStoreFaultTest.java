package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Redis going away under a running store: killed, restarted, hung; and failing at start-up. */
class RedisStoreFaultTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  private static String key() {
    return "fault:" + UUID.randomUUID();
  }

  @Test
  void sameStoreWorksAgainAfterRedisIsKilledAndRestarted() throws Exception {
    // A long command timeout: a call that waited for it stands out from a slow machine's.
    try (RedisProcess redis = RedisProcess.start();
        RedisStore store =
            RedisStore.builder(redis.uri()).commandTimeout(Duration.ofSeconds(10)).build()) {
      assertThat(store.acquire(key(), "h", LOCK, RETENTION))
          .isInstanceOf(Acquisition.Acquired.class);

      redis.kill();
      long start = System.nanoTime();
      assertThatThrownBy(() -> store.acquire(key(), "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("127.0.0.1:" + redis.port());
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .as("a dead Redis fails the call at once, it does not wait for a timeout")
          .isLessThan(Duration.ofSeconds(5));

      redis.restart();
      String key = key();
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(20))
          .ignoreExceptionsInstanceOf(StoreException.class)
          .until(() -> store.acquire(key, "h", LOCK, RETENTION) instanceof Acquisition.Acquired);
      // The scripts were lost with the old process: EVALSHA falls back to EVAL.
      long token = ((Acquisition.Acquired) store.acquire(key() , "h", LOCK, RETENTION)).token();
      assertThat(token).isNotZero();
    }
  }

  @Test
  void waitersAreWokenWhenTheSubscriptionComesBackAfterARestart() throws Exception {
    try (RedisProcess redis = RedisProcess.start();
        RedisStore store = RedisStore.builder(redis.uri()).build()) {
      String held = key();
      store.acquire(held, "h", LOCK, RETENTION);
      CompletableFuture<Void> waiter = store.watch(held);
      assertThat(waiter).isNotDone();
      redis.kill();
      redis.restart();
      // Whatever completed while the subscription was down went unheard: waiters look again.
      waiter.get(10, TimeUnit.SECONDS);

      // And the resubscribed pattern carries notifications again.
      String key = key();
      long token = ((Acquisition.Acquired) acquireEventually(store, key)).token();
      CompletableFuture<Void> next = store.watch(key);
      try (RedisStore other = RedisStore.builder(redis.uri()).build()) {
        CompletableFuture<Void> remote = other.watch(key);
        store.complete(key, token, new StoredResponse(200, Map.of(), new byte[0]), RETENTION);
        remote.get(5, TimeUnit.SECONDS);
      }
      // Its own subscription hears it too, not necessarily before the other store's.
      next.get(5, TimeUnit.SECONDS);
    }
  }

  private static Acquisition acquireEventually(RedisStore store, String key) {
    Acquisition[] last = new Acquisition[1];
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .ignoreExceptionsInstanceOf(StoreException.class)
        .until(() -> (last[0] = store.acquire(key, "h", LOCK, RETENTION)) != null);
    return last[0];
  }

  @Test
  void hungRedisFailsTheCallAfterTheCommandTimeout() {
    try (RedisProcess redis = RedisProcess.start();
        RedisStore store =
            RedisStore.builder(redis.uri()).commandTimeout(Duration.ofMillis(300)).build()) {
      redis.pause();
      try {
        long start = System.nanoTime();
        assertThatThrownBy(() -> store.acquire(key(), "h", LOCK, RETENTION))
            .isInstanceOf(StoreException.class)
            .hasMessageContaining("timed out");
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .isBetween(Duration.ofMillis(250), Duration.ofSeconds(3));
      } finally {
        redis.resume();
      }
      String key = key();
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptionsInstanceOf(StoreException.class)
          .until(() -> store.acquire(key, "h", LOCK, RETENTION) instanceof Acquisition.Acquired);
    }
  }

  /**
   * The claim Redis runs on resuming is undone; a retry is not answered in flight for 30 s. Also
   * after a restart or failover, when nothing may have cached the release script again (only 5xx
   * responses release): the release must not fail on NOSCRIPT.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aClaimThatTimedOutWhileRedisWasPausedLeavesNoLockWhenRedisResumes(boolean cacheLost) {
    try (RedisProcess redis = RedisProcess.start();
        RedisStore store =
            RedisStore.builder(redis.uri()).commandTimeout(Duration.ofMillis(300)).build()) {
      if (cacheLost) {
        redis.call("SCRIPT", "FLUSH");
        assertThat(store.acquire(key(), "h", LOCK, RETENTION))
            .isInstanceOf(Acquisition.Acquired.class); // caches acquire.lua again, not release
      }
      String key = key();
      redis.pause();
      try {
        assertThatThrownBy(() -> store.acquire(key, "h", LOCK, RETENTION))
            .isInstanceOf(StoreException.class)
            .hasMessageContaining("timed out");
      } finally {
        redis.resume();
      }
      int scriptsRun = cacheLost ? 4 : 2;
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptionsInstanceOf(StoreException.class)
          .until(() -> redis.commandCalls("evalsha") + redis.commandCalls("eval") >= scriptsRun
              && store.inspect(key).isEmpty());
      assertThat(store.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquisition.Acquired.class);
    }
  }

  /**
   * The connection drops after Redis ran a claim and before its reply came back (a network blip,
   * a proxy reset, CLIENT KILL): Lettuce fails the call without a timeout. The claim nobody holds
   * is released once the connection is back, not left to answer retries 409 for 30 s.
   */
  @Test
  void aClaimWhoseReplyWasLostWithTheConnectionLeavesNoLock() throws Exception {
    try (RedisProcess redis = RedisProcess.start();
        DroppingProxy proxy = new DroppingProxy(redis.port());
        RedisStore store = RedisStore.builder(proxy.uri()).build()) {
      String key = key();
      proxy.dropNextReply.set(true);
      assertThatThrownBy(() -> store.acquire(key, "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class);
      assertThat(redis.call("EXISTS", "idem:" + key)).as("the claim ran").isEqualTo(1L);
      await()
          .atMost(Duration.ofSeconds(5))
          .ignoreExceptionsInstanceOf(StoreException.class)
          .until(() -> store.inspect(key).isEmpty());
    }
  }

  /**
   * Over {@code proto-max-bulk-len} Redis answers a protocol error and closes the connection every
   * request of the JVM shares; the store refuses such a response itself and releases its claim.
   */
  @Test
  void aResponseTooLargeForRedisIsReleasedWithoutTouchingTheSharedConnection() {
    try (RedisProcess redis = RedisProcess.start(RedisProcess.freePort(false),
            java.util.List.of("--proto-max-bulk-len", "1mb"));
        RedisStore store = RedisStore.builder(redis.uri()).build()) {
      String key = key();
      long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
      long connections = Long.parseLong(redis.info("stats").get("total_connections_received"));
      assertThat(store.complete(key, token,
          new StoredResponse(200, Map.of(), new byte[1_500_000]), RETENTION)).isFalse();
      assertThat(store.inspect(key)).as("released: a retry executes").isEmpty();
      assertThat(Long.parseLong(redis.info("stats").get("total_connections_received")))
          .as("only the INFO call's own connection: the store did not reconnect")
          .isEqualTo(connections + 1);
    }
  }

  /** Every record has a TTL: any policy but noeviction may evict claims and responses. */
  @Test
  void theEvictionPolicyIsReadAtStartUp() {
    try (RedisProcess lru = RedisProcess.start(RedisProcess.freePort(false),
            java.util.List.of("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"));
        RedisStore evicting = RedisStore.builder(lru.uri()).build();
        RedisProcess plain = RedisProcess.start();
        RedisStore keeping = RedisStore.builder(plain.uri()).build()) {
      assertThat(evicting.maxmemoryPolicy()).isEqualTo("allkeys-lru");
      assertThat(keeping.maxmemoryPolicy()).isEqualTo("noeviction");
    }
  }

  @Test
  void startUpFailureNamesTheAddressButNotThePassword() {
    int port = RedisProcess.freePort(false);
    assertThatThrownBy(
            () -> RedisStore.builder("redis://:s3cret@127.0.0.1:" + port).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("cannot connect to Redis at 127.0.0.1:" + port)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret"));
  }

  @Test
  void wrongPasswordFailsStartUpWithoutShowingIt() {
    try (RedisProcess redis =
        RedisProcess.start(RedisProcess.freePort(false), java.util.List.of("--requirepass", "right"))) {
      assertThatThrownBy(
              () -> RedisStore.builder("redis://:wrong@127.0.0.1:" + redis.port()).build())
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("127.0.0.1:" + redis.port())
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong"));
      try (RedisStore store =
          RedisStore.builder("redis://:right@127.0.0.1:" + redis.port()).build()) {
        assertThat(store.acquire(key(), "h", LOCK, RETENTION))
            .isInstanceOf(Acquisition.Acquired.class);
      }
    }
  }

  /**
   * A Redis ACL user gets no pub/sub channels unless granted (the default since Redis 7): start-up
   * names the grant it needs. With the grant and the commands README lists, the store works.
   */
  @Test
  void anAclUserWithoutTheStoresChannelsIsToldWhichToGrant() throws Exception {
    try (RedisProcess redis = RedisProcess.start()) {
      redis.call("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "resetchannels");
      String uri = "redis://app:pw@127.0.0.1:" + redis.port();
      assertThatThrownBy(() -> RedisStore.builder(uri).build())
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("&idem:done:*")
          .hasMessageContaining("NOPERM")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain("cannot connect"));

      redis.call("ACL", "SETUSER", "app", "reset", "on", ">pw", "~idem:*", "&idem:done:*",
          "+evalsha", "+eval", "+script|load", "+psubscribe", "+scan", "+ping", "+hello",
          "+get", "+set", "+setrange", "+del", "+pttl", "+time", "+publish");
      try (RedisStore store = RedisStore.builder(uri).build()) {
        Acquisition.Acquired claim =
            (Acquisition.Acquired) store.acquire("acl", "h", LOCK, RETENTION);
        CompletableFuture<Void> woken = store.watch("acl");
        assertThat(store.renew("acl", claim.token(), LOCK)).isTrue();
        assertThat(store.complete("acl", claim.token(),
            new StoredResponse(201, Map.of(), new byte[] {7}), RETENTION)).isTrue();
        woken.get(5, TimeUnit.SECONDS);
        assertThat(store.acquire("acl", "h", LOCK, RETENTION))
            .isInstanceOf(Acquisition.Completed.class);
        assertThat(store.inspect("acl")).isPresent();
        assertThat(store.inFlightOlderThan(Duration.ZERO, 10)).isEmpty();
        assertThat(store.purge("acl")).isTrue();
      }
    }
  }
}
