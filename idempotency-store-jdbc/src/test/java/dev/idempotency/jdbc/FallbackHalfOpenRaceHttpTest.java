package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.ForwardingStore;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.JettyServer;
import dev.idempotency.TestApp;
import dev.idempotency.TestClock;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoreException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * redis+jdbc, Redis healthy again after an outage: the breaker's half-open probe sends one
 * request to Redis while a duplicate of it, arriving in the same instant, is sent to JDBC. Both
 * ran: the probe's claim on Redis only read JDBC, before the duplicate's JDBC claim landed.
 */
class FallbackHalfOpenRaceHttpTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  private static PostgresProcess pg;
  private RedisProcess redis;
  private RedisStore redisStore;
  private FallbackStore store;
  private JettyServer server;
  private final TestApp app = new TestApp();
  private final TestClock clock = new TestClock();
  private final AtomicBoolean redisDown = new AtomicBoolean();
  /** Armed: P's Redis acquire waits until Q is at JDBC. */
  private volatile CountDownLatch pInRedis;
  private volatile CountDownLatch qAtJdbc;
  private final AtomicBoolean holdFirstJdbcConnection = new AtomicBoolean();

  @BeforeAll
  static void startPostgres() throws Exception {
    pg = PostgresProcess.start();
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    pg.close();
  }

  @BeforeEach
  void up() throws Exception {
    redis = RedisProcess.start();
    redisStore = RedisStore.builder(redis.uri()).build();
    ForwardingStore primary = new ForwardingStore(redisStore) {
      @Override
      public Acquisition acquire(String key, String hash, Duration lock, Duration retention) {
        if (redisDown.get()) {
          throw new StoreException("redis", "down (test)", null);
        }
        CountDownLatch p = pInRedis;
        if (p != null) {
          pInRedis = null;
          p.countDown();
          await(qAtJdbc);
        }
        return super.acquire(key, hash, lock, retention);
      }
    };
    DataSource pool = pg.dataSource();
    DataSource hooked = new HookedDataSource(pool, () -> {
      if (holdFirstJdbcConnection.compareAndSet(true, false)) {
        // Q is past the breaker (it chose JDBC); let P run its Redis claim and its JDBC
        // look-up first, as a slightly slower JDBC round trip would.
        qAtJdbc.countDown();
        await(app.entered);
      }
    });
    JdbcStore jdbc = JdbcStore.builder().dataSource(hooked).createSchema(true)
        .purgeInterval(Duration.ZERO).build();
    store = FallbackStore.builder(primary, jdbc).clock(clock).build();
    server = JettyServer.start(IdempotencyFilter.builder(store).build(), app);
  }

  @AfterEach
  void down() throws Exception {
    app.gate.countDown();
    server.close();
    store.close();
    redis.close();
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(20, TimeUnit.SECONDS)) {
        throw new IllegalStateException("latch never opened");
      }
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private HttpRequest post(String key) {
    return HttpRequest.newBuilder(server.uri("/echo?hold=1")).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").header("Idempotency-Key", key)
        .header("X-Test-Id", key).POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}"))
        .build();
  }

  /** Redis failed three times (breaker open), came back, and the cool-down is over. */
  private void redisOutageThenBack() {
    redisDown.set(true);
    for (int i = 0; i < 3; i++) {
      store.acquire("outage-" + UUID.randomUUID(), "h", Duration.ofSeconds(30),
          Duration.ofHours(1));
    }
    assertThat(store.state().breaker()).isEqualTo(FallbackStore.Breaker.OPEN);
    redisDown.set(false);
    clock.advance(Duration.ofSeconds(1));
  }

  // SPEC §5 row 1 / §8 redis+jdbc: one key, two duplicate requests, Redis answering.
  @Test
  void theProbeOnRedisAndItsDuplicateOnJdbcRunOnce() throws Exception {
    redisOutageThenBack();
    String key = UUID.randomUUID().toString();
    pInRedis = new CountDownLatch(1);
    qAtJdbc = new CountDownLatch(1);
    CountDownLatch pArrived = pInRedis;
    holdFirstJdbcConnection.set(true);

    CompletableFuture<HttpResponse<String>> p =
        CLIENT.sendAsync(post(key), HttpResponse.BodyHandlers.ofString());
    await(pArrived); // P is the probe, inside its Redis claim
    CompletableFuture<HttpResponse<String>> q =
        CLIENT.sendAsync(post(key), HttpResponse.BodyHandlers.ofString());

    // Q answers 409 (or, in wait mode, P's response) if it is refused; if it was let through it
    // is now held in the handler like P.
    // Polled on this thread: a spinning task in the common pool (one thread on two cores) held
    // back the JDK 25 HttpClient's sending of Q.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(2))
        .until(() -> q.isDone() || (app.executionsById.get(key) != null
            && app.executionsById.get(key).get() >= 2));
    app.gate.countDown();
    HttpResponse<String> pr = p.get(20, TimeUnit.SECONDS);
    HttpResponse<String> qr = q.get(20, TimeUnit.SECONDS);
    assertThat(pr.statusCode()).isEqualTo(201);
    assertThat(qr.statusCode()).isEqualTo(409);
    assertThat(app.executionsById.get(key).get()).as("handler executions for one key").isEqualTo(1);
  }

  /** No hooks: duplicate pairs released by a barrier just as the breaker's cool-down ends. */
  @Test
  void duplicatePairsAtTheProbeRunOnce() throws Exception {
    app.gate.countDown();
    java.util.concurrent.ExecutorService two = java.util.concurrent.Executors.newFixedThreadPool(2);
    int doubles = 0;
    int rounds = 20;
    for (int round = 0; round < rounds; round++) {
      redisOutageThenBack();
      String key = UUID.randomUUID().toString();
      java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
      java.util.List<CompletableFuture<HttpResponse<String>>> pair = new java.util.ArrayList<>();
      for (int i = 0; i < 2; i++) {
        pair.add(CompletableFuture.supplyAsync(() -> {
          try {
            barrier.await();
            return CLIENT.send(post(key), HttpResponse.BodyHandlers.ofString());
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, two));
      }
      for (CompletableFuture<HttpResponse<String>> f : pair) {
        f.get(20, TimeUnit.SECONDS);
      }
      if (app.executionsById.get(key).get() > 1) {
        doubles++;
      }
    }
    two.shutdown();
    assertThat(doubles).isZero();
  }
}
