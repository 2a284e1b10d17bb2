package dev.idempotency.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The store benchmarks' operations run interleaved, one of each per round, so a store operation
 * and its floor see the same machine: on a shared machine whose load changes by the minute, JMH
 * running one benchmark after the other can compare a quiet minute with a busy one. Reuses the
 * JMH states ({@link JdbcStoreBenchmark}, {@link RedisStoreBenchmark}) and their methods.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.idempotency.bench.PairedStoreRun
 * jdbc|redis [seconds]} (default 60 s measured after 10 s of warm-up). Prints mean, ops/s, p50
 * and p99 per operation, and each store operation's throughput as a share of its floor's; the
 * first-time request's also as a share of a floor that writes what the store writes
 * ({@link RedisStoreBenchmark#floorTwoWrites}, {@link
 * JdbcStoreBenchmark#floorInsertUpdateSameTable}).
 */
public final class PairedStoreRun {

  private PairedStoreRun() {}

  public static void main(String[] args) throws Exception {
    String store = args.length > 0 ? args[0] : "redis";
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 60;
    Map<String, Callable<?>> ops = new LinkedHashMap<>();
    Runnable tearDown;
    String firstTime;
    String firstTimeFloor;
    String replayFloor;
    if (store.equals("jdbc")) {
      JdbcStoreBenchmark b = new JdbcStoreBenchmark();
      b.setUp();
      ops.put("firstTime", b::firstTime);
      ops.put("floorTwoUpserts", b::floorTwoUpserts);
      ops.put("replay", b::replay);
      ops.put("floorPrimaryKeySelect", b::floorPrimaryKeySelect);
      ops.put("floorInsertUpdateSameTable", b::floorInsertUpdateSameTable);
      firstTime = "firstTime";
      firstTimeFloor = "floorTwoUpserts";
      replayFloor = "floorPrimaryKeySelect";
      tearDown = () -> {
        try {
          b.tearDown();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      };
    } else {
      RedisStoreBenchmark b = new RedisStoreBenchmark();
      b.setUp();
      ops.put("acquireComplete", b::acquireComplete);
      ops.put("floorTwoEvalsha", () -> {
        b.floorEvalsha();
        return b.floorEvalsha();
      });
      ops.put("replay", b::replay);
      ops.put("floorEvalsha", b::floorEvalsha);
      ops.put("floorPing", b::floorPing);
      ops.put("floorTwoWrites", b::floorTwoWrites);
      firstTime = "acquireComplete";
      firstTimeFloor = "floorTwoEvalsha";
      replayFloor = "floorEvalsha";
      tearDown = b::tearDown;
    }
    List<String> names = List.copyOf(ops.keySet());
    run(ops, names, 10, null);
    long[][] nanos = new long[names.size()][];
    int rounds = run(ops, names, seconds, nanos);
    tearDown.run();

    Map<String, Double> mean = new LinkedHashMap<>();
    System.out.printf("%s, %d interleaved rounds in %d s%n", store, rounds, seconds);
    System.out.printf("%-26s %10s %10s %10s %10s%n", "operation", "mean µs", "ops/s", "p50 µs",
        "p99 µs");
    for (int i = 0; i < names.size(); i++) {
      long[] sorted = Arrays.copyOf(nanos[i], rounds);
      Arrays.sort(sorted);
      double m = Arrays.stream(sorted).average().orElse(0) / 1e3;
      mean.put(names.get(i), m);
      System.out.printf("%-26s %10.1f %10.0f %10.1f %10.1f%n", names.get(i), m, 1e6 / m,
          sorted[rounds / 2] / 1e3, sorted[(int) Math.ceil(rounds * 0.99) - 1] / 1e3);
    }
    System.out.printf("%s throughput = %.0f %% of %s; replay throughput = %.0f %% of %s%n",
        firstTime, 100 * mean.get(firstTimeFloor) / mean.get(firstTime), firstTimeFloor,
        100 * mean.get(replayFloor) / mean.get("replay"), replayFloor);
    Map<String, String> writeFloors = Map.of(
        "floorTwoWrites", "the store's two records written, nothing else",
        "floorInsertUpdateSameTable", "a plain INSERT and UPDATE on the store's table");
    writeFloors.forEach((floor, what) -> {
      if (mean.containsKey(floor)) {
        System.out.printf("%s throughput = %.0f %% of %s (%s)%n", firstTime,
            100 * mean.get(floor) / mean.get(firstTime), floor, what);
      }
    });
  }

  /** Runs one of each operation per round for {@code seconds}; records times if asked. */
  private static int run(Map<String, Callable<?>> ops, List<String> names, int seconds,
      long[][] nanos) throws Exception {
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    int rounds = 0;
    while (System.nanoTime() < end) {
      for (int i = 0; i < names.size(); i++) {
        Callable<?> op = ops.get(names.get(i));
        long start = System.nanoTime();
        op.call();
        long took = System.nanoTime() - start;
        if (nanos != null) {
          if (nanos[i] == null) {
            nanos[i] = new long[1 << 16];
          } else if (rounds == nanos[i].length) {
            nanos[i] = Arrays.copyOf(nanos[i], rounds * 2);
          }
          nanos[i][rounds] = took;
        }
      }
      rounds++;
    }
    return rounds;
  }
}
