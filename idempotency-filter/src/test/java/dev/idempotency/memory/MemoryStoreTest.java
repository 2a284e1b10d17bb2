package dev.idempotency.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.TestClock;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MemoryStoreTest extends IdempotencyStoreContract {

  private final TestClock clock = new TestClock();
  private final MemoryStore store = new MemoryStore(10_000, clock);

  @Override
  protected IdempotencyStore store() {
    return store;
  }

  @Override
  protected IdempotencyStore secondStore() {
    return store;
  }

  @Override
  protected void advance(Duration duration) {
    clock.advance(duration);
  }

  @Test
  void staysWithinItsBoundByEvictingCompletedRecords() {
    MemoryStore small = new MemoryStore(100, clock);
    for (int i = 0; i < 1_000; i++) {
      String key = "k" + i;
      Acquisition a = small.acquire(key, "h", LONG, RETENTION);
      small.complete(key, ((Acquisition.Acquired) a).token(), response(200, "x"), RETENTION);
    }
    assertThat(small.size()).isLessThanOrEqualTo(101);
  }

  @Test
  void neverEvictsALiveLock() {
    MemoryStore small = new MemoryStore(10, clock);
    for (int i = 0; i < 50; i++) {
      small.acquire("k" + i, "h", LONG, RETENTION);
    }
    for (int i = 0; i < 50; i++) {
      assertThat(small.acquire("k" + i, "h", LONG, RETENTION))
          .isInstanceOf(Acquisition.InFlight.class);
    }
  }

  private static void claimAndComplete(MemoryStore s, String key, Duration retention) {
    Acquisition a = s.acquire(key, "h", LONG, retention);
    s.complete(key, ((Acquisition.Acquired) a).token(), response(200, "x"), retention);
  }

  @Test
  void whenFullDropsTheRecordsClosestToExpiryFirst() {
    MemoryStore small = new MemoryStore(100, clock);
    for (int i = 0; i < 60; i++) {
      claimAndComplete(small, "keyed" + i, RETENTION);
      clock.advance(Duration.ofMillis(1));
    }
    for (int i = 0; i < 60; i++) {
      claimAndComplete(small, "keyless" + i, Duration.ofMinutes(1));
      clock.advance(Duration.ofMillis(1));
    }
    // 120 records for 100 places: the 20 oldest of the one-minute records go, not the hour's.
    assertThat(small.size()).isEqualTo(100);
    for (int i = 0; i < 60; i++) {
      assertThat(small.inspect("keyed" + i)).as("keyed%d", i).isPresent();
    }
    for (int i = 0; i < 60; i++) {
      assertThat(small.inspect("keyless" + i).isPresent()).as("keyless%d", i).isEqualTo(i >= 20);
    }
  }

  @Test
  void expiredRecordsLeaveWithoutWaitingForTheStoreToFill() {
    MemoryStore roomy = new MemoryStore(10_000, clock);
    for (int i = 0; i < 50; i++) {
      claimAndComplete(roomy, "k" + i, Duration.ofSeconds(1));
    }
    assertThat(roomy.size()).isEqualTo(50);
    clock.advance(Duration.ofSeconds(2));
    roomy.acquire("next", "h", LONG, Duration.ofSeconds(1));
    assertThat(roomy.size()).isEqualTo(1);
  }

  @Test
  void claimsOfReleasedRecordsDoNotPileUpBehindALongLivedOne() {
    MemoryStore small = new MemoryStore(100, clock);
    claimAndComplete(small, "long-lived", RETENTION);
    for (int i = 0; i < 10_000; i++) {
      String key = "released" + i;
      Acquisition a = small.acquire(key, "h", LONG, RETENTION);
      small.release(key, ((Acquisition.Acquired) a).token());
    }
    assertThat(small.size()).isEqualTo(1);
    assertThat(small.claimsQueued()).isLessThanOrEqualTo(201);
    assertThat(small.inspect("long-lived")).isPresent();
  }

  @Test
  void racingClaimsStayWithinTheBoundAndNeverLoseALiveLock() throws Exception {
    MemoryStore small = new MemoryStore(500, clock);
    int threads = 4;
    int perThread = 5_000;
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
    java.util.List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < perThread; i++) {
            String key = "t" + id + "-" + i;
            Acquisition a = small.acquire(key, "h", LONG, RETENTION);
            long token = ((Acquisition.Acquired) a).token();
            // Still this thread's while it runs, however many claims the others make.
            assertThat(small.acquire(key, "h", LONG, RETENTION))
                .isInstanceOf(Acquisition.InFlight.class);
            if (i % 7 == 0) {
              small.release(key, token);
            } else {
              assertThat(small.complete(key, token, response(200, "x"), RETENTION)).isTrue();
            }
          }
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> f : done) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    claimAndComplete(small, "last", RETENTION);
    assertThat(small.size()).isLessThanOrEqualTo(500);
    assertThat(small.claimsQueued()).isLessThanOrEqualTo(2 * 500 + 1);
    assertThat(small.inspect("last")).isPresent();
  }

  @Test
  void aWatchOfAKeyWithNoClaimInFlightIsWokenAtOnceAndLeavesNothingBehind() {
    String key = "watch-" + java.util.UUID.randomUUID();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LONG, RETENTION)).token();
    java.util.concurrent.CompletableFuture<Void> during = store.watch(key);
    assertThat(during).isNotDone();
    store.complete(key, token, response(200, "x"), RETENTION);
    assertThat(during).isDone();

    // A waiter that looked while the claim ran, and watches only after it completed.
    java.util.concurrent.CompletableFuture<Void> late = store.watch(key);
    assertThat(late).isDone();
    assertThat(store.watch("never-claimed-" + java.util.UUID.randomUUID())).isDone();
    assertThat(store.watchedKeys()).isZero();
  }

  @Test
  void cancellingOneWatchLeavesTheOtherWatchersOfTheKeyWaiting() {
    String key = "watch-" + java.util.UUID.randomUUID();
    long token = ((Acquisition.Acquired) store.acquire(key, "h", LONG, RETENTION)).token();
    java.util.concurrent.CompletableFuture<Void> first = store.watch(key);
    java.util.concurrent.CompletableFuture<Void> second = store.watch(key);
    first.cancel(false);
    assertThat(second).isNotDone();
    store.complete(key, token, response(200, "x"), RETENTION);
    assertThat(second).isDone().isNotCancelled();
  }

  // 100,000 records of up to max-response-bytes each would fill any heap: bytes are bounded too.
  @Test
  void theResponsesHeldAreBoundedInBytesAndOneTooLargeIsReleased() {
    MemoryStore small = new MemoryStore(10_000, 10 * 1024, clock);
    StoredResponse kilobyte =
        new StoredResponse(200, java.util.Map.of(), new byte[1024]);
    for (int i = 0; i < 30; i++) {
      String key = "k" + i;
      long token = ((Acquisition.Acquired) small.acquire(key, "h", Duration.ofSeconds(30),
          Duration.ofHours(1))).token();
      assertThat(small.complete(key, token, kilobyte, Duration.ofHours(1))).isTrue();
      clock.advance(Duration.ofMillis(1));
    }
    assertThat(small.bytesHeld()).isLessThanOrEqualTo(10 * 1024);
    assertThat(small.inspect("k29")).as("the newest is kept").isPresent();
    assertThat(small.inspect("k0")).as("the oldest went first").isEmpty();

    long token = ((Acquisition.Acquired) small.acquire("big", "h", Duration.ofSeconds(30),
        Duration.ofHours(1))).token();
    assertThat(small.complete("big", token,
        new StoredResponse(200, java.util.Map.of(), new byte[20 * 1024]), Duration.ofHours(1)))
        .isFalse();
    assertThat(small.acquire("big", "h", Duration.ofSeconds(30), Duration.ofHours(1)))
        .as("released: a retry executes").isInstanceOf(Acquisition.Acquired.class);
    small.purge("k29");
    assertThat(small.bytesHeld()).isLessThanOrEqualTo(9 * 1024);
  }
}
