package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.spi.Acquisition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** Two stores with separate connections, as two JVMs, racing real threads on the same keys. */
class RedisStoreRaceTest {

  private static final int KEYS = 1_000;
  private static final int THREADS_PER_STORE = 4;

  @Test
  void twoStoresRacingOnAThousandKeysHaveExactlyOneWinnerPerKey() throws Exception {
    try (RedisProcess redis = RedisProcess.start();
        RedisStore first = RedisStore.builder(redis.uri()).build();
        RedisStore second = RedisStore.builder(redis.uri()).build()) {
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < KEYS; i++) {
        keys.add("race:" + UUID.randomUUID());
      }
      int threads = 2 * THREADS_PER_STORE;
      // Every thread meets the others before each key, so all of them hit a key together.
      CyclicBarrier together = new CyclicBarrier(threads);
      AtomicIntegerArray winners = new AtomicIntegerArray(KEYS);
      AtomicIntegerArray losers = new AtomicIntegerArray(KEYS);
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          RedisStore store = t % 2 == 0 ? first : second;
          done.add(
              pool.submit(
                  () -> {
                    for (int i = 0; i < KEYS; i++) {
                      together.await(30, TimeUnit.SECONDS);
                      Acquisition a =
                          store.acquire(
                              keys.get(i), "h", Duration.ofSeconds(30), Duration.ofMinutes(5));
                      if (a instanceof Acquisition.Acquired) {
                        winners.incrementAndGet(i);
                      } else if (a instanceof Acquisition.InFlight) {
                        losers.incrementAndGet(i);
                      }
                    }
                    return null;
                  }));
        }
        for (Future<?> f : done) {
          f.get(2, TimeUnit.MINUTES);
        }
      } finally {
        pool.shutdownNow();
      }
      for (int i = 0; i < KEYS; i++) {
        assertThat(winners.get(i)).as("winners of key %d", i).isEqualTo(1);
        assertThat(losers.get(i)).as("in-flight answers for key %d", i).isEqualTo(threads - 1);
      }
    }
  }
}
