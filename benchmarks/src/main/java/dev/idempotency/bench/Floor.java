package dev.idempotency.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The floor under the HTTP numbers, from one JVM with the same clients the stores use: the raw
 * round trip of the machine's Redis ({@code PING}, {@code SET key value NX PX 60000}) on one
 * shared Lettuce connection, as {@code RedisStore} has, and of its PostgreSQL ({@code SELECT 1}
 * as a prepared statement, and one committed {@code INSERT} into a scratch table {@code
 * bench_floor}, dropped at the end) through a HikariCP pool of 10, {@code JdbcStore}'s
 * default. Each at
 * 1 and 32 closed-loop threads; appends lines in {@link HttpLoad}'s format with label {@code
 * floor}.
 *
 * <pre>
 * java -cp benchmarks.jar dev.idempotency.bench.Floor --out results.tsv \
 *     [--redis redis://127.0.0.1:6379] [--jdbc jdbc:postgresql://127.0.0.1:5432/test] \
 *     [--warmup 2] [--duration 4]
 * </pre>
 *
 * Not thread-safe; run once from {@code main}.
 */
public final class Floor {

  /** One operation of a closed-loop thread. */
  @FunctionalInterface
  private interface Op {
    void run(int thread, long n) throws Exception;
  }

  private Floor() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = Options.parse(args);
    Path out = Path.of(Options.required(opts, "out"));
    double warmup = Double.parseDouble(opts.getOrDefault("warmup", "2"));
    double duration = Double.parseDouble(opts.getOrDefault("duration", "4"));
    String run = Long.toString(System.currentTimeMillis(), 36);

    RedisClient client = RedisClient.create(opts.getOrDefault("redis", "redis://127.0.0.1:6379"));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      SetArgs nxPx = SetArgs.Builder.nx().px(60_000);
      for (int clients : new int[] {1, 32}) {
        write(out, measure("redis PING", clients, warmup, duration, (t, n) -> redis.ping()));
        write(out, measure("redis SET NX PX", clients, warmup, duration,
            (t, n) -> redis.set("floor:" + run + ":" + t + ":" + n, "1", nxPx)));
      }
    } finally {
      client.shutdown();
    }

    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(opts.getOrDefault("jdbc", "jdbc:postgresql://127.0.0.1:5432/test"));
    config.setUsername(opts.getOrDefault("jdbc-user", "postgres"));
    config.setMaximumPoolSize(10);
    try (HikariDataSource pool = new HikariDataSource(config)) {
      try (Connection c = pool.getConnection(); Statement ddl = c.createStatement()) {
        ddl.execute("CREATE TABLE IF NOT EXISTS bench_floor (k text PRIMARY KEY, v int)");
      }
      for (int clients : new int[] {1, 32}) {
        // A first-time request on jdbc commits twice; this is one committed write.
        write(out, measure("postgresql INSERT (commit)", clients, warmup, duration, (t, n) -> {
          try (Connection c = pool.getConnection();
              PreparedStatement insert = c.prepareStatement(
                  "INSERT INTO bench_floor VALUES (?, 1) ON CONFLICT (k) DO NOTHING")) {
            insert.setString(1, run + ":" + t + ":" + n);
            insert.executeUpdate();
          }
        }));
      }
      for (int clients : new int[] {1, 32}) {
        write(out, measure("postgresql SELECT 1", clients, warmup, duration, (t, n) -> {
          try (Connection c = pool.getConnection();
              PreparedStatement select = c.prepareStatement("SELECT 1");
              ResultSet rs = select.executeQuery()) {
            rs.next();
          }
        }));
      }
      try (Connection c = pool.getConnection(); Statement ddl = c.createStatement()) {
        ddl.execute("DROP TABLE bench_floor");
      }
    }
  }

  private static void write(Path out, HttpLoad.Result result) throws Exception {
    String line = result.tsv();
    Files.writeString(out, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    System.out.println(line);
  }

  private static HttpLoad.Result measure(String kind, int clients, double warmup,
      double duration, Op op) throws InterruptedException {
    // 0 warming up, 1 measuring, 2 stop
    AtomicInteger phase = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    List<Latencies> latencies = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      Latencies mine = new Latencies();
      latencies.add(mine);
      int thread = i;
      Thread t = new Thread(() -> {
        long n = 0;
        int now;
        while ((now = phase.get()) != 2) {
          long start = System.nanoTime();
          try {
            op.run(thread, n++);
          } catch (Exception e) {
            errors.incrementAndGet();
          }
          if (now == 1) {
            mine.add(System.nanoTime() - start);
          }
        }
      }, "floor-" + i);
      threads.add(t);
      t.start();
    }
    Thread.sleep((long) (warmup * 1000));
    long start = System.nanoTime();
    phase.set(1);
    Thread.sleep((long) (duration * 1000));
    phase.set(2);
    long elapsed = System.nanoTime() - start;
    for (Thread t : threads) {
      t.join();
    }
    long[] sorted = Latencies.sortedUnion(latencies);
    return new HttpLoad.Result("floor", kind, clients, sorted.length, elapsed / 1e9,
        Latencies.percentile(sorted, 50) / 1000.0, Latencies.percentile(sorted, 99) / 1000.0,
        errors.get(), Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
  }
}
