package dev.idempotency.bench;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP load generator of {@code benchmarks/run.sh}: closed-loop clients, each on its own
 * keep-alive HTTP/1.1 connection, posting {@code {"item":"book","quantity":1}} to {@code
 * /api/orders} of a sample webapp running in another JVM. Per scenario (first executions: a new
 * {@code Idempotency-Key} per request; replays: one completed key) it warms up, measures for a
 * fixed time, and appends one tab-separated line to the results file: label, kind, clients,
 * requests, seconds, requests/s, p50 µs, p99 µs, errors, Redis {@code EVALSHA} per request,
 * PostgreSQL commits per request.
 *
 * <p>It speaks HTTP/1.1 on plain sockets rather than through {@code java.net.http.HttpClient}:
 * on two cores shared with the server, every microsecond the generator spends is taken from the
 * server, and the JDK client costs several times more CPU per request than writing the request
 * bytes and reading a {@code Content-Length} body (which is all {@code wrk} does either).
 *
 * <pre>
 * java -cp benchmarks.jar dev.idempotency.bench.HttpLoad --port 18080 --label redis \
 *     --out results.tsv [--warmup 2] [--duration 6] [--jvm-warmup 10] [--jvm-warmup-max 60] \
 *     [--clients 1,32] \
 *     [--redis redis://127.0.0.1:6379] [--jdbc jdbc:postgresql://127.0.0.1:5432/test] \
 *     [--server-pid PID] [--replays false] [--requests first|replay|both]
 * </pre>
 *
 * {@code --jvm-warmup 0} skips the JVM warm-up (the server is warm already); {@code --requests}
 * measures only first executions or only replays (for a profile of one path). Label {@code none}
 * (or {@code --replays false}) means the sample runs without the filter, so
 * a replay is expected to execute again rather than carry {@code Idempotent-Replayed}.
 *
 * Not thread-safe; run once from {@code main}.
 */
public final class HttpLoad {

  private static final String PATH = "/api/orders";
  private static final byte[] BODY =
      "{\"item\":\"book\",\"quantity\":1}".getBytes(StandardCharsets.US_ASCII);
  private static final String NO_FILTER = "none";

  private enum Phase { WARMUP, MEASURE, STOP }

  private final String host;
  private final int port;
  private final String label;
  private final boolean filtered;
  private final String runId = Long.toString(System.currentTimeMillis(), 36);
  private volatile Phase phase;
  private int scenarios;

  private HttpLoad(String host, int port, String label, boolean filtered) {
    this.host = host;
    this.port = port;
    this.label = label;
    this.filtered = filtered;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = Options.parse(args);
    HttpLoad load = new HttpLoad(opts.getOrDefault("host", "127.0.0.1"),
        Integer.parseInt(Options.required(opts, "port")), Options.required(opts, "label"),
        !opts.getOrDefault("label", "").equals(NO_FILTER)
            && Boolean.parseBoolean(opts.getOrDefault("replays", "true")));
    Path out = Path.of(Options.required(opts, "out"));
    double warmup = Double.parseDouble(opts.getOrDefault("warmup", "2"));
    double duration = Double.parseDouble(opts.getOrDefault("duration", "6"));
    double jvmWarmup = Double.parseDouble(opts.getOrDefault("jvm-warmup", "10"));
    double jvmWarmupMax = Double.parseDouble(opts.getOrDefault("jvm-warmup-max", "60"));
    List<Integer> clients = new ArrayList<>();
    for (String c : opts.getOrDefault("clients", "1,32").split(",")) {
      clients.add(Integer.parseInt(c.trim()));
    }
    Counters counters = new Counters(opts.get("redis"), opts.get("jdbc"),
        opts.getOrDefault("jdbc-user", "postgres"),
        opts.containsKey("server-pid") ? Long.parseLong(opts.get("server-pid")) : -1);
    try {
      int widest = clients.stream().mapToInt(Integer::intValue).max().orElse(1);
      if (jvmWarmup > 0) {
        load.warmUp(widest, jvmWarmup, jvmWarmupMax, counters.serverPid);
      }
      String requests = opts.getOrDefault("requests", "both");
      for (boolean replay : new boolean[] {false, true}) {
        if (!requests.equals("both") && requests.equals("replay") != replay) {
          continue;
        }
        for (int c : clients) {
          Result result = load.run(replay, c, warmup, duration, counters);
          String line = result.tsv();
          Files.writeString(out, line + "\n", StandardCharsets.UTF_8,
              StandardOpenOption.CREATE, StandardOpenOption.APPEND);
          System.out.println(line);
        }
      }
    } finally {
      counters.close();
    }
  }

  /**
   * Warms the server JVM up on both paths for at least {@code min} and at most {@code max}
   * seconds, until first executions stop getting faster (less than 5 % between two 3-second
   * windows) and, when the server's pid is known, its JIT compiler threads are idle during a
   * window (under 2 % of the window's CPU). With some seventy threads runnable on two cores the
   * compiler threads get little CPU, and code waits long in the compile queue at tier 2 (C1 with
   * profiling); so after each window the load pauses until the compiler threads are idle (at most
   * 10 s), as a real server's load has quieter moments.
   */
  private void warmUp(int clients, double min, double max, long serverPid) throws Exception {
    long start = System.nanoTime();
    double previous = 0;
    while (true) {
      long compilerBefore = ProcCpu.compilerThreads(serverPid);
      long windowStart = System.nanoTime();
      double rps = run(false, clients, 0, 3, null).rps();
      run(true, clients, 0, 1.5, null);
      long windowNanos = System.nanoTime() - windowStart;
      double compilerShare = (ProcCpu.compilerThreads(serverPid) - compilerBefore)
          / (double) (windowNanos * Runtime.getRuntime().availableProcessors());
      double elapsed = (System.nanoTime() - start) / 1e9;
      boolean compiled = serverPid < 0 || compilerShare < 0.02;
      boolean steady = previous > 0 && rps < previous * 1.05 && compiled;
      if ((steady && elapsed >= min) || elapsed >= max) {
        System.err.printf(Locale.ROOT,
            "%s: warmed up for %.0f s (%s; last window %.0f req/s, JIT compiler %.1f %% of the "
                + "CPU)%n",
            label, elapsed, steady ? "steady" : "not steady, stopped at the limit", rps,
            100 * compilerShare);
        return;
      }
      previous = rps;
      drainCompileQueue(serverPid);
    }
  }

  /** Waits, with no load, until the server's compiler threads are idle for 0.5 s (at most 10 s). */
  private static void drainCompileQueue(long serverPid) throws InterruptedException {
    if (serverPid < 0) {
      return;
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    long before = ProcCpu.compilerThreads(serverPid);
    while (System.nanoTime() < deadline) {
      Thread.sleep(500);
      long now = ProcCpu.compilerThreads(serverPid);
      // /proc counts in 10 ms ticks: at most one tick of compiling in half a second is idle.
      if (now - before <= 10_000_000L) {
        return;
      }
      before = now;
    }
  }

  /** Runs one scenario; measures after {@code warmup} seconds for {@code duration} seconds. */
  private Result run(boolean replay, int clients, double warmup, double duration,
      Counters counters) throws Exception {
    String scenario = runId + "-" + scenarios++;
    String replayKey = null;
    if (replay) {
      replayKey = "replay-" + scenario;
      try (Client prime = new Client(host, port)) {
        int status = prime.post(replayKey);
        if (status != 201) {
          throw new IllegalStateException("priming the replay key answered " + status);
        }
      }
    }
    boolean expectReplayed = replay && filtered;
    List<Latencies> latencies = new ArrayList<>();
    AtomicInteger errors = new AtomicInteger();
    AtomicInteger firstError = new AtomicInteger();
    CountDownLatch connected = new CountDownLatch(clients);
    List<Thread> threads = new ArrayList<>();
    phase = Phase.WARMUP;
    for (int i = 0; i < clients; i++) {
      Latencies mine = new Latencies();
      latencies.add(mine);
      String keyPrefix = "first-" + scenario + "-" + i + "-";
      String fixedKey = replayKey;
      Thread thread = new Thread(() -> {
        try (Client client = new Client(host, port)) {
          connected.countDown();
          long n = 0;
          Phase now;
          while ((now = phase) != Phase.STOP) {
            String key = fixedKey != null ? fixedKey : keyPrefix + n++;
            long start = System.nanoTime();
            int status = client.post(key);
            long took = System.nanoTime() - start;
            if (now == Phase.MEASURE) {
              mine.add(took);
              if (status != 201 || client.replayed != expectReplayed) {
                errors.incrementAndGet();
                firstError.compareAndSet(0, status);
              }
            }
          }
        } catch (IOException e) {
          errors.incrementAndGet();
          System.err.println("client failed: " + e);
        }
      }, "load-" + i);
      threads.add(thread);
      thread.start();
    }
    connected.await();
    Thread.sleep((long) (warmup * 1000));
    Snapshot before = counters == null ? null : counters.snapshot();
    long start = System.nanoTime();
    phase = Phase.MEASURE;
    Thread.sleep((long) (duration * 1000));
    phase = Phase.STOP;
    long elapsed = System.nanoTime() - start;
    for (Thread thread : threads) {
      thread.join();
    }
    Snapshot after = counters == null ? null : counters.snapshot();
    long[] sorted = Latencies.sortedUnion(latencies);
    if (errors.get() > 0) {
      System.err.printf("%s %s c=%d: %d unexpected answers (first status %d)%n", label,
          replay ? "replay" : "first", clients, errors.get(), firstError.get());
    }
    double seconds = elapsed / 1e9;
    return new Result(label, replay ? "replay" : "first", clients, sorted.length, seconds,
        Latencies.percentile(sorted, 50) / 1000.0, Latencies.percentile(sorted, 99) / 1000.0,
        errors.get(), perRequest(before, after, Snapshot::evalsha, 1, sorted.length),
        perRequest(before, after, Snapshot::commits, 1, sorted.length),
        perRequest(before, after, Snapshot::serverCpu, 1000, sorted.length),
        perRequest(before, after, Snapshot::generatorCpu, 1000, sorted.length),
        perRequest(before, after, Snapshot::redisCpu, 1000, sorted.length),
        before == null || before.postgres == null || sorted.length == 0 ? Double.NaN
            : ProcCpu.delta(before.postgres, after.postgres) / 1000.0 / sorted.length);
  }

  private static double perRequest(Snapshot before, Snapshot after,
      java.util.function.ToLongFunction<Snapshot> counter, double unit, int requests) {
    if (before == null || counter.applyAsLong(before) < 0 || requests == 0) {
      return Double.NaN;
    }
    return (counter.applyAsLong(after) - counter.applyAsLong(before)) / unit / requests;
  }

  /**
   * One scenario's numbers; the CPU columns are microseconds of CPU per request spent by the
   * sample JVM, the generator JVM, Redis and all PostgreSQL processes while measuring.
   */
  record Result(String label, String kind, int clients, int requests, double seconds,
      double p50Micros, double p99Micros, int errors, double evalshaPerRequest,
      double commitsPerRequest, double serverCpuMicros, double generatorCpuMicros,
      double redisCpuMicros, double postgresCpuMicros) {
    double rps() {
      return requests / seconds;
    }

    String tsv() {
      return String.join("\t", label, kind, Integer.toString(clients),
          Integer.toString(requests), String.format(Locale.ROOT, "%.3f", seconds),
          String.format(Locale.ROOT, "%.1f", requests / seconds),
          String.format(Locale.ROOT, "%.1f", p50Micros),
          String.format(Locale.ROOT, "%.1f", p99Micros), Integer.toString(errors),
          String.format(Locale.ROOT, "%.3f", evalshaPerRequest),
          String.format(Locale.ROOT, "%.3f", commitsPerRequest),
          String.format(Locale.ROOT, "%.1f", serverCpuMicros),
          String.format(Locale.ROOT, "%.1f", generatorCpuMicros),
          String.format(Locale.ROOT, "%.1f", redisCpuMicros),
          String.format(Locale.ROOT, "%.1f", postgresCpuMicros));
    }
  }

  /** One keep-alive HTTP/1.1 connection. Not thread-safe. */
  private static final class Client implements AutoCloseable {
    private final String host;
    private final int port;
    private final byte[] head;
    private Socket socket;
    private OutputStream out;
    private InputStream in;
    private final byte[] request = new byte[1024];
    private final byte[] skip = new byte[8192];
    private final StringBuilder line = new StringBuilder(128);
    boolean replayed;

    Client(String host, int port) throws IOException {
      this.host = host;
      this.port = port;
      this.head = ("POST " + PATH + " HTTP/1.1\r\nHost: " + host + ":" + port
          + "\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length
          + "\r\nIdempotency-Key: ").getBytes(StandardCharsets.US_ASCII);
      connect();
    }

    private void connect() throws IOException {
      socket = new Socket();
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(host, port), 5_000);
      socket.setSoTimeout(30_000);
      out = socket.getOutputStream();
      in = new BufferedInputStream(socket.getInputStream(), 8192);
    }

    /** Posts the order under {@code key}; the status, with {@link #replayed} set. */
    int post(String key) throws IOException {
      int n = 0;
      System.arraycopy(head, 0, request, n, head.length);
      n += head.length;
      for (int i = 0; i < key.length(); i++) {
        request[n++] = (byte) key.charAt(i);
      }
      request[n++] = '\r';
      request[n++] = '\n';
      request[n++] = '\r';
      request[n++] = '\n';
      System.arraycopy(BODY, 0, request, n, BODY.length);
      n += BODY.length;
      out.write(request, 0, n);
      out.flush();
      return readResponse();
    }

    private int readResponse() throws IOException {
      String status = readLine();
      if (status == null || !status.startsWith("HTTP/1.1 ")) {
        throw new IOException("not an HTTP/1.1 response: " + status);
      }
      int code = Integer.parseInt(status.substring(9, 12));
      long length = -1;
      boolean close = false;
      replayed = false;
      String header;
      while ((header = readLine()) != null && !header.isEmpty()) {
        int colon = header.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String name = header.substring(0, colon);
        String value = header.substring(colon + 1).trim();
        if (name.equalsIgnoreCase("Content-Length")) {
          length = Long.parseLong(value);
        } else if (name.equalsIgnoreCase("Idempotent-Replayed")) {
          replayed = value.equalsIgnoreCase("true");
        } else if (name.equalsIgnoreCase("Connection")) {
          close = value.equalsIgnoreCase("close");
        } else if (name.equalsIgnoreCase("Transfer-Encoding")) {
          throw new IOException("chunked responses are not expected from /api/orders");
        }
      }
      if (length < 0) {
        throw new IOException("response without Content-Length, status " + code);
      }
      while (length > 0) {
        int read = in.read(skip, 0, (int) Math.min(skip.length, length));
        if (read < 0) {
          throw new IOException("connection closed inside a body");
        }
        length -= read;
      }
      if (close) {
        socket.close();
        connect();
      }
      return code;
    }

    private String readLine() throws IOException {
      line.setLength(0);
      int b;
      while ((b = in.read()) >= 0) {
        if (b == '\n') {
          int last = line.length() - 1;
          if (last >= 0 && line.charAt(last) == '\r') {
            line.setLength(last);
          }
          return line.toString();
        }
        line.append((char) b);
      }
      return line.length() == 0 ? null : line.toString();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Counts at one instant; -1 where not measured; CPU in nanoseconds. */
  private record Snapshot(long evalsha, long commits, long serverCpu, long generatorCpu,
      long redisCpu, Map<Long, Long> postgres) {}

  /**
   * Round trips the server made while measuring: Redis {@code EVALSHA} calls (every store
   * operation is one, SPEC §8; exact) and PostgreSQL commits of the database (approximate:
   * PostgreSQL publishes backend statistics at most once a second).
   */
  private static final class Counters implements AutoCloseable {
    private final RedisClient redisClient;
    private final StatefulRedisConnection<String, String> redis;
    private final Connection jdbc;
    final long serverPid;

    Counters(String redisUri, String jdbcUrl, String jdbcUser, long serverPid)
        throws SQLException {
      this.serverPid = serverPid;
      if (redisUri != null) {
        redisClient = RedisClient.create(redisUri);
        redis = redisClient.connect();
      } else {
        redisClient = null;
        redis = null;
      }
      jdbc = jdbcUrl == null ? null : DriverManager.getConnection(jdbcUrl, jdbcUser, "");
    }

    Snapshot snapshot() throws SQLException {
      long evalsha = -1;
      if (redis != null) {
        evalsha = 0;
        for (String line : redis.sync().info("commandstats").split("\r?\n")) {
          if (line.startsWith("cmdstat_evalsha:calls=")) {
            String rest = line.substring("cmdstat_evalsha:calls=".length());
            evalsha = Long.parseLong(rest.substring(0, rest.indexOf(',')));
          }
        }
      }
      long commits = -1;
      Map<Long, Long> postgres = null;
      if (jdbc != null) {
        // The server's own processes only: tests on this machine start PostgreSQL servers too.
        java.util.List<Long> pids = new ArrayList<>();
        try (Statement s = jdbc.createStatement();
            ResultSet rs = s.executeQuery("SELECT pid FROM pg_stat_activity")) {
          while (rs.next()) {
            pids.add(rs.getLong(1));
          }
        }
        postgres = ProcCpu.of(pids);
        try (Statement s = jdbc.createStatement();
            ResultSet rs = s.executeQuery(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")) {
          rs.next();
          commits = rs.getLong(1);
        }
      }
      long redisCpu = -1;
      if (redis != null) {
        double seconds = 0;
        for (String line : redis.sync().info("cpu").split("\r?\n")) {
          if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
            seconds += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
          }
        }
        redisCpu = (long) (seconds * 1e9);
      }
      long generatorCpu = ((com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
      return new Snapshot(evalsha, commits, serverPid < 0 ? -1 : ProcCpu.of(serverPid),
          generatorCpu, redisCpu, postgres);
    }

    @Override
    public void close() throws SQLException {
      if (redis != null) {
        redis.close();
        redisClient.shutdown();
      }
      if (jdbc != null) {
        jdbc.close();
      }
    }
  }
}
