package dev.idempotency.redis;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import redis.embedded.core.ExecutableProvider;

/**
 * A real {@code redis-server} process on a free loopback port, owned by a test: started, stopped
 * (gracefully or with SIGKILL) and restarted on the same port, so fault tests can take Redis away
 * from a running store and give it back.
 *
 * <p>The binary is, in order: the path in system property {@code idempotency.test.redis-server},
 * {@code redis-server} on the {@code PATH}, else the binary shipped in
 * {@code com.github.codemonstur:embedded-redis} (Redis 6.2), so tests pass on a fresh machine.
 * Nothing is persisted: no RDB, no AOF. Reused by other modules through this module's test-jar.
 * {@link #startTls} runs one that speaks only TLS (both binaries are built with TLS).
 *
 * <pre>{@code
 * try (RedisProcess redis = RedisProcess.start()) {
 *   String uri = redis.uri();          // redis://127.0.0.1:PORT
 *   redis.kill();                      // SIGKILL: connections drop, the port refuses
 *   redis.restart();                   // same port, empty data
 * }
 * }</pre>
 *
 * <p>Thread-safety: methods are synchronized; one test usually drives one process.
 */
public final class RedisProcess implements AutoCloseable {

  /** System property naming a {@code redis-server} binary to use instead of the PATH one. */
  public static final String BINARY_PROPERTY = "idempotency.test.redis-server";

  private static final long START_TIMEOUT_SECONDS = 20;

  private final int port;
  private final Path dir;
  private final List<String> extraArgs;
  private final TestCertificates tls;
  private final ConcurrentLinkedDeque<String> log = new ConcurrentLinkedDeque<>();
  private Process process;
  private boolean paused;

  private RedisProcess(int port, Path dir, List<String> extraArgs, TestCertificates tls) {
    this.port = port;
    this.dir = dir;
    this.extraArgs = List.copyOf(extraArgs);
    this.tls = tls;
  }

  /** Starts a standalone server on a free loopback port. */
  public static RedisProcess start() {
    return start(freePort(false), List.of());
  }

  /**
   * Starts a server on {@code port} with extra command-line arguments (e.g. {@code
   * --cluster-enabled yes}).
   */
  public static RedisProcess start(int port, List<String> extraArgs) {
    return start(port, extraArgs, null);
  }

  /**
   * Starts a server that speaks only TLS ({@code --port 0}) on {@code port}, with {@code certs}'
   * server certificate and no client certificates asked; {@link #uri()} is then {@code
   * rediss://127.0.0.1:PORT} and {@link #call} goes over TLS, trusting {@code certs}' CA.
   */
  public static RedisProcess startTls(TestCertificates certs, int port, List<String> extraArgs) {
    return start(port, extraArgs, certs);
  }

  private static RedisProcess start(int port, List<String> extraArgs, TestCertificates tls) {
    Path dir;
    try {
      dir = Files.createTempDirectory("redis-" + port + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    RedisProcess redis = new RedisProcess(port, dir, extraArgs, tls);
    redis.launch();
    return redis;
  }

  /**
   * A port free on 127.0.0.1; with {@code withClusterBus}, one whose cluster bus port (port +
   * 10000) is free too.
   */
  public static int freePort(boolean withClusterBus) {
    if (!withClusterBus) {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        return socket.getLocalPort();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(20_000, 30_000);
      if (bindable(port) && bindable(port + 10_000)) {
        return port;
      }
    }
    throw new IllegalStateException("no free port pair (p, p+10000) found in 20000..30000");
  }

  private static boolean bindable(int port) {
    try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The {@code redis-server} binary the helper runs; see the class comment for the order. */
  public static Path executable() {
    String property = System.getProperty(BINARY_PROPERTY);
    if (property != null && !property.isBlank()) {
      return Path.of(property);
    }
    String path = System.getenv("PATH");
    if (path != null) {
      for (String entry : path.split(File.pathSeparator)) {
        Path candidate = Path.of(entry, "redis-server");
        if (Files.isExecutable(candidate)) {
          return candidate;
        }
      }
    }
    try {
      File binary = ExecutableProvider.newJarResourceProvider().get();
      binary.setExecutable(true);
      return binary.toPath();
    } catch (IOException e) {
      throw new UncheckedIOException("no redis-server on PATH and embedded-redis failed", e);
    }
  }

  private synchronized void launch() {
    List<String> command = new ArrayList<>();
    command.add(executable().toString());
    if (tls == null) {
      command.addAll(List.of("--port", Integer.toString(port)));
    } else {
      command.addAll(
          List.of(
              "--port", "0",
              "--tls-port", Integer.toString(port),
              "--tls-cert-file", tls.certPem().toString(),
              "--tls-key-file", tls.keyPem().toString(),
              "--tls-ca-cert-file", tls.caPem().toString(),
              "--tls-auth-clients", "no"));
    }
    command.addAll(
        List.of(
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", dir.toString(),
            "--daemonize", "no",
            "--loglevel", "notice"));
    command.addAll(extraArgs);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    CompletableFuture<Void> ready = new CompletableFuture<>();
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
    Process started = process;
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader lines =
                  new BufferedReader(
                      new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                  log.add(line);
                  if (log.size() > 200) {
                    log.pollFirst();
                  }
                  if (line.contains("Ready to accept connections")) {
                    ready.complete(null);
                  }
                }
              } catch (IOException ignored) {
                // The process died; its exit is reported below.
              }
              ready.completeExceptionally(
                  new IllegalStateException("redis-server on port " + port + " exited"));
            },
            "redis-" + port + "-log");
    reader.setDaemon(true);
    reader.start();
    try {
      ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted starting redis-server", e);
    } catch (ExecutionException | TimeoutException e) {
      started.destroyForcibly();
      throw new IllegalStateException(
          "redis-server did not start on port " + port + ": " + String.join("\n", log), e);
    }
  }

  /** The loopback port the server listens on (also after a restart). */
  public int port() {
    return port;
  }

  /** {@code redis://127.0.0.1:PORT}, or {@code rediss://127.0.0.1:PORT} for a TLS server. */
  public String uri() {
    return (tls == null ? "redis" : "rediss") + "://127.0.0.1:" + port;
  }

  /** True while the server process is alive. */
  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Stops the server with SIGTERM (SIGKILL if paused) and waits for it to exit. */
  public synchronized void stop() {
    if (process == null) {
      return;
    }
    if (paused) {
      kill();
      return;
    }
    process.destroy();
    await(process);
    process = null;
  }

  /** Kills the server with SIGKILL (no shutdown, connections reset) and waits for it to die. */
  public synchronized void kill() {
    if (process == null) {
      return;
    }
    process.destroyForcibly();
    await(process);
    process = null;
    paused = false;
  }

  /**
   * Freezes the server with SIGSTOP: connections stay open but nothing answers, as with a hung
   * Redis. {@link #resume()} undoes it.
   */
  public synchronized void pause() {
    signal("STOP");
    paused = true;
  }

  /** Lets a {@linkplain #pause() paused} server run again (SIGCONT). */
  public synchronized void resume() {
    signal("CONT");
    paused = false;
  }

  private void signal(String signal) {
    if (process == null) {
      throw new IllegalStateException("redis-server on port " + port + " is not running");
    }
    try {
      Process kill =
          new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid()))
              .redirectErrorStream(true)
              .start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill -" + signal + " failed for port " + port);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Starts the server again on the same port, with empty data. Stops it first if running. */
  public synchronized void restart() {
    stop();
    launch();
  }

  private static void await(Process process) {
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Runs one command on the server through a fresh connection and returns the reply: a String,
   * Long, List or null. For setting up and inspecting, not for load.
   */
  public Object call(String... args) {
    try {
      return tls == null ? Resp.call(port, args) : Resp.call(tls.socketFactory(), port, args);
    } catch (IOException e) {
      throw new UncheckedIOException("redis on port " + port + ": " + String.join(" ", args), e);
    }
  }

  /** {@code INFO section} parsed into {@code name -> value}. */
  public Map<String, String> info(String section) {
    Map<String, String> values = new java.util.LinkedHashMap<>();
    for (String line : ((String) call("INFO", section)).split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        values.put(line.substring(0, colon), line.substring(colon + 1));
      }
    }
    return values;
  }

  /**
   * How many times the server has run {@code command} (lower case, e.g. {@code evalsha}) since
   * start or the last {@code CONFIG RESETSTAT}, from {@code INFO commandstats}.
   */
  public long commandCalls(String command) {
    String stat = info("commandstats").get("cmdstat_" + command.toLowerCase());
    if (stat == null) {
      return 0;
    }
    for (String part : stat.split(",")) {
      if (part.startsWith("calls=")) {
        return Long.parseLong(part.substring("calls=".length()));
      }
    }
    return 0;
  }

  /** Every command's call count from {@code INFO commandstats}, keyed by lower-case name. */
  public Map<String, Long> commandCalls() {
    Map<String, Long> calls = new java.util.TreeMap<>();
    info("commandstats")
        .forEach(
            (name, stat) -> {
              for (String part : stat.split(",")) {
                if (part.startsWith("calls=")) {
                  calls.put(
                      name.substring("cmdstat_".length()),
                      Long.parseLong(part.substring("calls=".length())));
                }
              }
            });
    return calls;
  }

  /** The last lines the server logged, for failure messages. */
  public String log() {
    return String.join("\n", log);
  }

  /** Kills the server and deletes its directory. */
  @Override
  public synchronized void close() {
    kill();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // A temp directory left behind is harmless.
    }
  }
}
