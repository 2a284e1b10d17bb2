package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.IdempotencyListener;
import dev.idempotency.JettyServer;
import dev.idempotency.Outcome;
import dev.idempotency.TestApp;
import dev.idempotency.jdbc.FallbackStore.Breaker;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.IdempotencyStore;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Chaos over real HTTP (issue 5, item 4): a counting servlet behind the filter in embedded
 * Jetty, real Redis and PostgreSQL servers that the test kills with SIGKILL and starts again.
 * The measured window is printed on lines starting with {@code CHAOS}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StoreOutageHttpTest {

  private static final int CLIENTS = 16;
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(10);
  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private PostgresProcess pg;
  private RedisProcess redis;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  void startServers() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start();
  }

  @AfterAll
  void stopServers() {
    redis.close();
    pg.close();
  }

  @AfterEach
  void closeAndRestore() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    toClose.clear();
    if (!redis.isRunning()) {
      redis.restart();
    }
    if (!pg.isRunning()) {
      pg.startAgain();
    }
  }

  /** Counts the filter's outcomes and the requests executing under a lock right now. */
  static final class Counting implements IdempotencyListener {
    final Map<Outcome, AtomicInteger> outcomes = new EnumMap<>(Outcome.class);
    final AtomicInteger inFlight = new AtomicInteger();

    Counting() {
      for (Outcome o : Outcome.values()) {
        outcomes.put(o, new AtomicInteger());
      }
    }

    @Override
    public void outcome(Outcome outcome) {
      outcomes.get(outcome).incrementAndGet();
    }

    @Override
    public void inFlight(int delta) {
      inFlight.addAndGet(delta);
    }

    int count(Outcome outcome) {
      return outcomes.get(outcome).get();
    }
  }

  private JdbcStore jdbcStore() {
    JdbcStore store =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
    return store;
  }

  /**
   * Redis's command timeout is long here so that a request that waited for it stands out (it
   * takes at least {@link #REDIS_TIMEOUT}) from one that was merely slow on a busy machine.
   */
  private FallbackStore fallbackStore() {
    FallbackStore store = FallbackStore.builder(
        RedisStore.builder(redis.uri()).commandTimeout(REDIS_TIMEOUT).build(), jdbcStore())
        .build();
    toClose.add(store);
    return store;
  }

  private JettyServer serve(
      IdempotencyStore store, FailMode failMode, TestApp app, Counting listener) throws Exception {
    JettyServer server =
        JettyServer.start(
            IdempotencyFilter.builder(store).failMode(failMode).listener(listener).build(), app);
    toClose.add(server);
    return server;
  }

  private static HttpResponse<String> post(JettyServer server, String key) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(server.uri("/echo"))
            .timeout(Duration.ofSeconds(30))
            .header("Idempotency-Key", key)
            .header("X-Test-Id", key)
            .POST(HttpRequest.BodyPublishers.ofString("order " + key))
            .build();
    return HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private static boolean replayed(HttpResponse<?> response) {
    return response.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER).orElse("")
        .equals("true");
  }

  /** A key one client got an answer for: when, and which execution answered it. */
  record Done(String key, long answeredNanos, String execution) {}

  /**
   * Sixteen clients, each sending new keys of its own and re-sending one of its earlier keys
   * every third request; every answer must be the first execution's (201, same X-Execution).
   */
  private final class Load {
    final JettyServer server;
    final List<Done> done = new CopyOnWriteArrayList<>();
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    final AtomicLong slowestNanos = new AtomicLong();
    final AtomicLong measureSlowestAfter = new AtomicLong(Long.MAX_VALUE);
    volatile boolean stop;
    final ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
    final List<Future<?>> running = new ArrayList<>();

    Load(JettyServer server) {
      this.server = server;
      String run = UUID.randomUUID().toString().substring(0, 8);
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        running.add(threads.submit(() -> client(run + "-c" + client)));
      }
    }

    private Void client(String prefix) throws Exception {
      List<Done> mine = new ArrayList<>();
      for (int n = 0; !stop; n++) {
        if (n % 3 == 2 && !mine.isEmpty()) {
          check(mine.get(ThreadLocalRandom.current().nextInt(mine.size())));
          continue;
        }
        String key = prefix + "-" + n;
        long sent = System.nanoTime();
        HttpResponse<String> response = post(server, key);
        long answered = System.nanoTime();
        if (sent >= measureSlowestAfter.get()) {
          slowestNanos.accumulateAndGet(answered - sent, Math::max);
        }
        if (response.statusCode() != 201 || replayed(response)) {
          problems.add(key + ": first send answered " + response.statusCode());
          continue;
        }
        Done d = new Done(key, answered, response.headers().firstValue("X-Execution").orElse(""));
        mine.add(d);
        done.add(d);
      }
      return null;
    }

    void check(Done d) throws Exception {
      HttpResponse<String> again = post(server, d.key());
      if (again.statusCode() != 201
          || !replayed(again)
          || !again.headers().firstValue("X-Execution").orElse("").equals(d.execution())) {
        problems.add(
            d.key() + ": retry answered " + again.statusCode() + " replayed=" + replayed(again)
                + " execution " + again.headers().firstValue("X-Execution").orElse("")
                + " instead of " + d.execution());
      }
    }

    void stop() throws Exception {
      stop = true;
      for (Future<?> f : running) {
        f.get(60, TimeUnit.SECONDS);
      }
      threads.shutdown();
    }

    /** Re-sends every key answered before {@code nanos}, from 16 threads. */
    void checkAllAnsweredBefore(long nanos) throws Exception {
      List<Done> before = done.stream().filter(d -> d.answeredNanos() < nanos).toList();
      ExecutorService checkers = Executors.newFixedThreadPool(CLIENTS);
      List<Future<?>> checks = new ArrayList<>();
      for (Done d : before) {
        checks.add(checkers.submit(() -> {
          check(d);
          return null;
        }));
      }
      for (Future<?> f : checks) {
        f.get(60, TimeUnit.SECONDS);
      }
      checkers.shutdown();
    }
  }

  private static void runFor(Duration duration, Supplier<Boolean> alsoUntil) {
    long end = System.nanoTime() + duration.toNanos();
    await()
        .atMost(duration.plusSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> System.nanoTime() >= end && alsoUntil.get());
  }

  @Test
  void redisKilledUnderLoadThenRestarted() throws Exception {
    FallbackStore store = fallbackStore();
    TestApp app = new TestApp();
    Counting listener = new Counting();
    JettyServer server = serve(store, FailMode.CLOSED, app, listener);
    Load load = new Load(server);
    runFor(Duration.ofSeconds(2), () -> load.done.size() > 200);

    // (a) SIGKILL Redis while the clients keep going.
    int inFlightAtKill = listener.inFlight.get();
    FallbackStore.State atKill = store.state();
    long killed = System.nanoTime();
    load.measureSlowestAfter.set(killed);
    redis.kill();
    await().atMost(REDIS_TIMEOUT.dividedBy(2))
        .until(() -> store.state().serving().equals("jdbc"));
    long servingJdbcAfterMillis = (System.nanoTime() - killed) / 1_000_000;
    int answeredAtKill = (int) load.done.stream().filter(d -> d.answeredNanos() < killed).count();
    runFor(Duration.ofSeconds(2), () -> true);
    int answeredDuringOutage = load.done.size() - answeredAtKill;
    load.checkAllAnsweredBefore(killed);
    FallbackStore.State afterKill = store.state();

    System.out.printf(
        "CHAOS redis killed: %d requests executing under a lock at the kill (claims in flight),"
            + " %d completions waiting in the mirror queue, mirror lag last %.2f ms / max %.2f ms;"
            + " serving from jdbc %d ms after the kill; slowest request sent after the kill"
            + " %d ms; %d keys answered before the kill, %d during the outage; fallbacks %d;"
            + " claims made on redis completed into jdbc after the kill %d%n",
        inFlightAtKill, atKill.mirrorPending(), atKill.lastMirrorLag().toNanos() / 1e6,
        atKill.maxMirrorLag().toNanos() / 1e6, servingJdbcAfterMillis,
        load.slowestNanos.get() / 1_000_000, answeredAtKill, answeredDuringOutage,
        afterKill.fallbacks(), afterKill.rescued());
    assertThat(answeredDuringOutage).as("keys answered on jdbc").isGreaterThan(50);
    // No request paid a Redis timeout: a dead Redis is noticed from its closed connection.
    assertThat(Duration.ofNanos(load.slowestNanos.get()))
        .as("slowest request sent after the kill")
        .isLessThan(REDIS_TIMEOUT.dividedBy(2));
    assertThat(load.problems).isEmpty();

    // (b) Redis back (empty): traffic returns to it; nothing completed meanwhile runs again.
    long restarted = System.nanoTime();
    redis.restart();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> store.state().breaker() == Breaker.CLOSED);
    System.out.printf("CHAOS redis restarted: serving from redis again after %d ms%n",
        (System.nanoTime() - restarted) / 1_000_000);
    runFor(Duration.ofSeconds(1), () -> true);
    load.stop();
    assertThat(store.state().serving()).isEqualTo("redis");
    load.checkAllAnsweredBefore(System.nanoTime());

    assertThat(load.problems).isEmpty();
    assertThat(listener.count(Outcome.FAIL_OPEN) + listener.count(Outcome.FAIL_CLOSED)).isZero();
    assertThat(app.executionsById).hasSize(load.done.size());
    assertThat(app.executionsById.entrySet())
        .allSatisfy(e -> assertThat(e.getValue().get()).as(e.getKey()).isEqualTo(1));
  }

  @Test
  void bothStoresDownFailOpenExecutesAndCountsFailClosedAnswers503() throws Exception {
    FallbackStore store = fallbackStore();
    TestApp openApp = new TestApp();
    Counting open = new Counting();
    JettyServer openServer = serve(store, FailMode.OPEN, openApp, open);
    TestApp closedApp = new TestApp();
    Counting closed = new Counting();
    JettyServer closedServer = serve(store, FailMode.CLOSED, closedApp, closed);

    redis.kill();
    pg.kill();
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> response = post(openServer, "both-down-" + UUID.randomUUID());
      assertThat(response.statusCode()).isEqualTo(201);
    }
    assertThat(openApp.executions.get()).isEqualTo(10);
    assertThat(open.count(Outcome.FAIL_OPEN)).isEqualTo(10);

    for (int i = 0; i < 10; i++) {
      HttpResponse<String> response = post(closedServer, "both-down-" + UUID.randomUUID());
      assertThat(response.statusCode()).isEqualTo(503);
      assertThat(response.headers().firstValue("Content-Type"))
          .hasValueSatisfying(v -> assertThat(v).startsWith("application/problem+json"));
      assertThat(response.headers().firstValue("Retry-After")).isPresent();
      assertThat(response.body()).contains("store-unavailable");
    }
    assertThat(closedApp.executions.get()).isZero();
    assertThat(closed.count(Outcome.FAIL_CLOSED)).isEqualTo(10);
  }

  @Test
  void jdbcStoreAloneWithPostgresKilledAndRestarted() throws Exception {
    JdbcStore store = jdbcStore();
    toClose.add(store);
    TestApp app = new TestApp();
    Counting open = new Counting();
    JettyServer openServer = serve(store, FailMode.OPEN, app, open);
    TestApp closedApp = new TestApp();
    Counting closed = new Counting();
    JettyServer closedServer = serve(store, FailMode.CLOSED, closedApp, closed);

    List<Done> before = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String key = "jdbc-alone-" + UUID.randomUUID();
      HttpResponse<String> response = post(openServer, key);
      assertThat(response.statusCode()).isEqualTo(201);
      before.add(new Done(key, 0, response.headers().firstValue("X-Execution").orElseThrow()));
    }

    pg.kill();
    long killed = System.nanoTime();
    for (int i = 0; i < 10; i++) {
      assertThat(post(openServer, "jdbc-down-" + UUID.randomUUID()).statusCode()).isEqualTo(201);
      HttpResponse<String> refused = post(closedServer, "jdbc-down-" + UUID.randomUUID());
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.headers().firstValue("Retry-After")).isPresent();
    }
    System.out.printf("CHAOS postgres killed: 20 requests through the jdbc store took %d ms%n",
        (System.nanoTime() - killed) / 1_000_000);
    assertThat(open.count(Outcome.FAIL_OPEN)).isEqualTo(10);
    assertThat(closed.count(Outcome.FAIL_CLOSED)).isEqualTo(10);
    assertThat(closedApp.executions.get()).isZero();

    pg.startAgain();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        // Polled through the fail-closed filter: a fail-open poll would execute the key again.
        .until(() -> replayed(post(closedServer, before.get(0).key())));
    for (Done d : before) {
      HttpResponse<String> again = post(openServer, d.key());
      assertThat(again.statusCode()).isEqualTo(201);
      assertThat(replayed(again)).isTrue();
      assertThat(again.headers().firstValue("X-Execution")).contains(d.execution());
      assertThat(app.executionsById.get(d.key()).get()).isEqualTo(1);
    }
    String after = "jdbc-back-" + UUID.randomUUID();
    assertThat(replayed(post(openServer, after))).isFalse();
    assertThat(replayed(post(openServer, after))).isTrue();
    assertThat(app.executionsById.get(after).get()).isEqualTo(1);
  }
}
