package dev.idempotency.bench;

import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How soon an {@code in-flight=wait} loser is answered after the winner completes, across two
 * {@link RedisStore} instances (two JVMs' worth: separate connections and pub/sub
 * subscriptions) on the machine's Redis.
 *
 * <p>Each round: store A claims a fresh key; a waiter thread on store B runs the filter's wait
 * loop (acquire → in flight → watch → acquire again → park on the watch) and tells the main
 * thread it is parked; A then completes the key. Measured from just before A's {@code complete}
 * is sent to (1) the moment B's watch fires (the pub/sub notification arrived) and (2) the moment
 * B holds the replayed response (its acquire after the wake-up returned {@code Completed}): the
 * latter is what the waiting client waits for, minus writing the HTTP response.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.idempotency.bench.RedisWaitLatency
 * [rounds] [redis-uri]} (defaults 2000, {@code redis://127.0.0.1:6379}). Prints p50/p90/p99/max.
 */
public final class RedisWaitLatency {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofSeconds(60);

  private RedisWaitLatency() {}

  /** When B's watch fired and when B held the response, as nanoTime. */
  private record Woken(long watchFired, long answered) {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    String uri = args.length > 1 ? args[1] : "redis://127.0.0.1:6379";
    int warmup = Math.max(200, rounds / 5);
    byte[] body = new byte[200];
    Arrays.fill(body, (byte) 'x');
    StoredResponse response =
        new StoredResponse(201, Map.of("Content-Type", List.of("application/json")), body);

    ExecutorService waiterThread = Executors.newSingleThreadExecutor();
    long[] wake = new long[rounds];
    long[] answer = new long[rounds];
    try (RedisStore winner = RedisStore.builder(uri).keyPrefix("bench:wait:").build();
        RedisStore loser = RedisStore.builder(uri).keyPrefix("bench:wait:").build()) {
      for (int round = -warmup; round < rounds; round++) {
        String key = UUID.randomUUID().toString();
        long token = ((Acquisition.Acquired) winner.acquire(key, "h", LOCK, RETENTION)).token();
        SynchronousQueue<Boolean> parked = new SynchronousQueue<>();
        Future<Woken> waiting = waiterThread.submit(() -> waitLikeTheFilter(loser, key, parked));
        parked.take();
        long completed = System.nanoTime();
        winner.complete(key, token, response, RETENTION);
        Woken woken = waiting.get(10, TimeUnit.SECONDS);
        if (round >= 0) {
          wake[round] = woken.watchFired() - completed;
          answer[round] = woken.answered() - completed;
        }
      }
    } finally {
      waiterThread.shutdownNow();
    }
    print("complete sent -> waiter's watch fired", wake);
    print("complete sent -> waiter holds the replay", answer);
  }

  /** The filter's wait loop (IdempotencyFilter#loop) reduced to its store calls. */
  private static Woken waitLikeTheFilter(
      RedisStore store, String key, SynchronousQueue<Boolean> parked) throws Exception {
    CompletableFuture<Void> watch = null;
    long watchFired = 0;
    boolean told = false;
    while (true) {
      Acquisition a = store.acquire(key, "h", LOCK, RETENTION);
      if (a instanceof Acquisition.Completed) {
        return new Woken(watchFired == 0 ? System.nanoTime() : watchFired, System.nanoTime());
      }
      if (!(a instanceof Acquisition.InFlight)) {
        throw new IllegalStateException("unexpected " + a);
      }
      if (watch == null || watch.isDone()) {
        watch = store.watch(key);
        continue;
      }
      if (!told) {
        parked.put(true);
        told = true;
      }
      try {
        watch.get(10, TimeUnit.SECONDS);
        watchFired = System.nanoTime();
      } catch (TimeoutException | ExecutionException e) {
        throw new IllegalStateException("no notification within 10 s for " + key, e);
      }
    }
  }

  private static void print(String what, long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    System.out.printf(
        "%-45s n=%d  p50=%.0f µs  p90=%.0f µs  p99=%.0f µs  max=%.0f µs%n",
        what,
        sorted.length,
        at(sorted, 0.50) / 1e3,
        at(sorted, 0.90) / 1e3,
        at(sorted, 0.99) / 1e3,
        sorted[sorted.length - 1] / 1e3);
  }

  private static double at(long[] sorted, double quantile) {
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)];
  }
}
