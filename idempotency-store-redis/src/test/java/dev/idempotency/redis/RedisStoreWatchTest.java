package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.ForwardingStore;
import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.JettyServer;
import dev.idempotency.TestApp;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoredResponse;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** {@code in-flight=wait} across JVMs: a waiter on one store woken by the owner on another. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RedisStoreWatchTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);
  private static final StoredResponse OK = new StoredResponse(200, Map.of(), new byte[] {1});

  private RedisProcess redis;
  private RedisStore owner;
  private RedisStore waiter;

  @BeforeAll
  void start() {
    redis = RedisProcess.start();
    owner = RedisStore.builder(redis.uri()).build();
    waiter = RedisStore.builder(redis.uri()).build();
  }

  @AfterAll
  void stop() {
    owner.close();
    waiter.close();
    redis.close();
  }

  private static String key() {
    return "watch:" + UUID.randomUUID();
  }

  @Test
  void waiterOnAnotherStoreIsWokenWithinASecondOfTheCompletion() {
    for (int round = 0; round < 20; round++) {
      String key = key();
      long token = ((Acquisition.Acquired) owner.acquire(key, "h", LOCK, RETENTION)).token();
      // Subscribe before acquire, as the filter does; the second acquire sees the owner.
      CompletableFuture<Void> woken = waiter.watch(key);
      assertThat(waiter.acquire(key, "h", LOCK, RETENTION))
          .isInstanceOf(Acquisition.InFlight.class);
      assertThat(woken).isNotDone();

      owner.complete(key, token, OK, RETENTION);
      // How fast is measured by the RedisWaitLatency benchmark; here only that it happens.
      await()
          .atMost(Duration.ofSeconds(5))
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(1))
          .until(woken::isDone);
      assertThat(waiter.acquire(key, "h", LOCK, RETENTION))
          .isEqualTo(new Acquisition.Completed(OK));
    }
  }

  @Test
  void aFilterWaiterThatGivesUpLeavesNoWatchBehindInTheStore() throws Exception {
    // Another JVM claims each key just before this one asks, then dies: its record expires by
    // itself, with no completion, release or purge that would end the watch.
    IdempotencyStore claimedElsewhere =
        new ForwardingStore(waiter) {
          @Override
          public Acquisition acquire(String key, String hash, Duration lock, Duration retention) {
            if (waiter.inspect(key).isEmpty()) {
              owner.acquire(key, hash, lock, retention);
            }
            return super.acquire(key, hash, lock, retention);
          }
        };
    IdempotencyFilter filter =
        IdempotencyFilter.builder(claimedElsewhere)
            .inFlight(InFlightMode.WAIT)
            .waitTimeout(Duration.ofMillis(200))
            .build();
    HttpClient client = HttpClient.newHttpClient();
    try (JettyServer server = JettyServer.start(filter, new TestApp())) {
      for (int round = 0; round < 3; round++) {
        HttpRequest request =
            HttpRequest.newBuilder(server.uri("/echo"))
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build();
        assertThat(client.send(request, HttpResponse.BodyHandlers.ofString()).statusCode())
            .isEqualTo(409);
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> waiter.waiting() == 0);
    } finally {
      filter.destroy();
    }
  }

  @Test
  void aWatchMadeRightAfterStartUpIsNotWokenByTheFirstSubscription() {
    // The pattern subscription's confirmation can reach the listener after build() returned;
    // only a re-subscription (after a reconnect) wakes waiters.
    for (int round = 0; round < 30; round++) {
      String key = key();
      owner.acquire(key, "h", LOCK, RETENTION);
      try (RedisStore fresh = RedisStore.builder(redis.uri()).build()) {
        CompletableFuture<Void> woken = fresh.watch(key);
        assertThat(fresh.inspect(key)).isPresent();
        assertThat(woken).as("round %d", round).isNotDone();
      }
    }
  }

  @Test
  void releaseAndPurgeWakeWaitersToo() throws Exception {
    String released = key();
    long token = ((Acquisition.Acquired) owner.acquire(released, "h", LOCK, RETENTION)).token();
    CompletableFuture<Void> onRelease = waiter.watch(released);
    owner.release(released, token);
    onRelease.get(5, TimeUnit.SECONDS);

    String purged = key();
    owner.acquire(purged, "h", LOCK, RETENTION);
    CompletableFuture<Void> onPurge = waiter.watch(purged);
    owner.purge(purged);
    onPurge.get(5, TimeUnit.SECONDS);
  }

  @Test
  void everyWaiterOfAKeyIsWokenAndOtherKeysAreNot() throws Exception {
    String key = key();
    String other = key();
    long token = ((Acquisition.Acquired) owner.acquire(key, "h", LOCK, RETENTION)).token();
    owner.acquire(other, "h", LOCK, RETENTION);
    CompletableFuture<Void> a = waiter.watch(key);
    CompletableFuture<Void> b = waiter.watch(key);
    CompletableFuture<Void> local = owner.watch(key);
    CompletableFuture<Void> unrelated = waiter.watch(other);
    owner.complete(key, token, OK, RETENTION);
    CompletableFuture.allOf(a, b, local).get(5, TimeUnit.SECONDS);
    assertThat(unrelated).isNotDone();
    unrelated.cancel(false);
  }

  @Test
  void watchingAKeyWithNoRecordYetIsWokenByTheCompletionOfItsNextOwner() throws Exception {
    String key = key();
    CompletableFuture<Void> woken = waiter.watch(key);
    assertThat(owner.inspect(key)).as("the mark is no record").isEmpty();
    long token = ((Acquisition.Acquired) owner.acquire(key, "h", LOCK, RETENTION)).token();
    assertThat(woken).isNotDone();
    owner.complete(key, token, OK, RETENTION);
    woken.get(5, TimeUnit.SECONDS);
    assertThat(waiter.acquire(key, "h", LOCK, RETENTION)).isEqualTo(new Acquisition.Completed(OK));
  }

  @Test
  void theMarkOfAWatchOnAMissingKeyExpiresByItself() {
    String key = key();
    waiter.watch(key).cancel(false);
    assertThat((Long) redis.call("PTTL", RedisStore.DEFAULT_KEY_PREFIX + key))
        .isPositive()
        .isLessThanOrEqualTo(RedisStore.WATCH_PLACEHOLDER_MS);
  }

  @Test
  void aCancelledWaiterIsForgottenWithoutDisturbingOthers() throws Exception {
    String key = key();
    long token = ((Acquisition.Acquired) owner.acquire(key, "h", LOCK, RETENTION)).token();
    int before = waiter.waiting();
    CompletableFuture<Void> givesUp = waiter.watch(key);
    CompletableFuture<Void> stays = waiter.watch(key);
    givesUp.cancel(false);
    assertThat(waiter.waiting()).isEqualTo(before + 1);
    owner.complete(key, token, OK, RETENTION);
    stays.get(5, TimeUnit.SECONDS);
    assertThat(waiter.waiting()).isEqualTo(before);
  }
}
