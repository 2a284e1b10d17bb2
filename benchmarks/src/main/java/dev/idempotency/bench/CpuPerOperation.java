package dev.idempotency.bench;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

/**
 * Where a store operation's time goes, next to its floor: each operation runs alone for a block
 * of seconds, one thread, and the block reports wall time per operation and the CPU that the
 * server (Redis from {@code INFO cpu}; every {@code postgres} process from {@code /proc}) and this
 * JVM spent per operation. On a machine whose cores the client and the server share, a store
 * operation's distance from its floor is mostly CPU one of them spends, and this says which.
 * Reuses the JMH states ({@link RedisStoreBenchmark}, {@link JdbcStoreBenchmark}); the servers
 * must be local, as {@code /proc} is read.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.idempotency.bench.CpuPerOperation
 * redis|jdbc [seconds per block] [rounds]} (default 8 s, 3 rounds; 3 s of warm-up before each
 * block).
 */
public final class CpuPerOperation {

  private CpuPerOperation() {}

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws Exception {
    String store = args.length > 0 ? args[0] : "redis";
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Map<String, Callable<?>> ops = new LinkedHashMap<>();
    // The server's CPU spent since the previous call.
    LongSupplier serverCpu;
    AutoCloseable tearDown;
    if (store.equals("jdbc")) {
      JdbcStoreBenchmark b = new JdbcStoreBenchmark();
      b.setUp();
      ops.put("firstTime", b::firstTime);
      ops.put("floorTwoUpserts", b::floorTwoUpserts);
      ops.put("replay", b::replay);
      ops.put("floorPrimaryKeySelect", b::floorPrimaryKeySelect);
      Map<Long, Long>[] last = new Map[] {postgresCpu()};
      serverCpu = () -> {
        Map<Long, Long> now = postgresCpu();
        long spent = ProcCpu.delta(last[0], now);
        last[0] = now;
        return spent;
      };
      tearDown = b::tearDown;
    } else {
      RedisStoreBenchmark b = new RedisStoreBenchmark();
      b.setUp();
      ops.put("acquireComplete", b::acquireComplete);
      ops.put("floorTwoEvalsha", () -> {
        b.floorEvalsha();
        return b.floorEvalsha();
      });
      ops.put("floorTwoWrites", b::floorTwoWrites);
      ops.put("replay", b::replay);
      ops.put("floorEvalsha", b::floorEvalsha);
      RedisClient client =
          RedisClient.create(System.getProperty("bench.redis.uri", "redis://127.0.0.1:6379"));
      StatefulRedisConnection<String, String> info = client.connect();
      long[] last = {redisCpu(info)};
      serverCpu = () -> {
        long now = redisCpu(info);
        long spent = now - last[0];
        last[0] = now;
        return spent;
      };
      tearDown = () -> {
        info.close();
        client.shutdown();
        b.tearDown();
      };
    }
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    System.out.printf("%s, blocks of %d s, %d rounds%n", store, seconds, rounds);
    System.out.printf("%-22s %10s %16s %14s%n", "operation", "wall µs", "server CPU µs",
        "JVM CPU µs");
    for (int round = 0; round < rounds; round++) {
      for (Map.Entry<String, Callable<?>> op : ops.entrySet()) {
        run(op.getValue(), 3);
        serverCpu.getAsLong();
        long jvm = os.getProcessCpuTime();
        long started = System.nanoTime();
        long count = run(op.getValue(), seconds);
        long wall = System.nanoTime() - started;
        long serverSpent = serverCpu.getAsLong();
        long jvmSpent = os.getProcessCpuTime() - jvm;
        System.out.printf("%-22s %10.1f %16.1f %14.1f%n", op.getKey(), wall / 1e3 / count,
            serverSpent / 1e3 / count, jvmSpent / 1e3 / count);
      }
    }
    tearDown.close();
    System.exit(0);
  }

  private static long run(Callable<?> op, int seconds) throws Exception {
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    long count = 0;
    while (System.nanoTime() < end) {
      op.call();
      count++;
    }
    return count;
  }

  /** Redis's own CPU so far, in nanoseconds (microsecond resolution). */
  private static long redisCpu(StatefulRedisConnection<String, String> connection) {
    double seconds = 0;
    for (String line : connection.sync().info("cpu").split("\r?\n")) {
      if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
        seconds += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    return (long) (seconds * 1e9);
  }

  /** The CPU so far of each process named {@code postgres} (10 ms resolution). */
  private static Map<Long, Long> postgresCpu() {
    List<Long> pids = new ArrayList<>();
    try (DirectoryStream<Path> processes = Files.newDirectoryStream(Path.of("/proc"))) {
      for (Path process : processes) {
        String name = process.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          if (Files.readString(process.resolve("comm")).trim().equals("postgres")) {
            pids.add(Long.parseLong(name));
          }
        } catch (IOException | RuntimeException e) {
          // the process ended meanwhile
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot list /proc", e);
    }
    return ProcCpu.of(pids);
  }
}
