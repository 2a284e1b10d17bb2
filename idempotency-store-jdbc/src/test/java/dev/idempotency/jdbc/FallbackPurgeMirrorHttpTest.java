package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyFilter;
import dev.idempotency.IdempotencyFilterTestAccess;
import dev.idempotency.JettyServer;
import dev.idempotency.TestApp;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * redis+jdbc around a Redis that loses its data: a key executed again after an operator purge is
 * copied to JDBC too, and a request running while Redis restarts keeps its response.
 */
class FallbackPurgeMirrorHttpTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  private static PostgresProcess pg;
  private RedisProcess redis;
  private FallbackStore store;
  private RedisStore redisStore;
  private JettyServer server;
  private final TestApp app = new TestApp();

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
    JdbcStore jdbc =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
    redisStore = RedisStore.builder(redis.uri()).build();
    store = FallbackStore.builder(redisStore, jdbc).build();
    server = JettyServer.start(IdempotencyFilter.builder(store).build(), app);
  }

  @AfterEach
  void down() throws Exception {
    server.close();
    store.close();
    redis.close();
  }

  private HttpResponse<String> post(String key) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(server.uri("/echo")).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").header("Idempotency-Key", key)
        .header("X-Test-Id", key).POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  private void mirrorDrained(long mirroredBefore) {
    await().atMost(Duration.ofSeconds(10))
        .until(() -> store.state().mirrored() > mirroredBefore && store.state().mirrorPending() == 0);
  }

  // SPEC §8 redis+jdbc: completed keyed records are mirrored, so a Redis outage still replays
  // what completed before it.
  @Test
  void aKeyRunAgainAfterAPurgeIsMirroredAndSurvivesRedisLosingItsData() throws Exception {
    String key = UUID.randomUUID().toString();
    assertThat(post(key).statusCode()).isEqualTo(201);
    mirrorDrained(0);

    // The operator purges the key (IdempotencyAdminServlet DELETE calls store.purge) and the
    // client retries: it runs again, as documented, and completes on Redis.
    assertThat(store.purge(IdempotencyFilterTestAccess.storeKeyOf(key))).isTrue();
    long mirroredBefore = store.state().mirrored();
    HttpResponse<String> second = post(key);
    assertThat(second.statusCode()).isEqualTo(201);
    assertThat(app.executionsById.get(key).get()).isEqualTo(2);
    mirrorDrained(mirroredBefore); // the store reports the copy as made

    // Redis loses its data (restart without persistence).
    redis.restart();

    HttpResponse<String> retry = post(key);
    assertThat(retry.statusCode()).isEqualTo(201);
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER))
        .as("replayed from the JDBC copy").contains("true");
    assertThat(app.executionsById.get(key).get()).as("executions").isEqualTo(2);
  }

  /** Control: the same without the purge replays from JDBC. */
  @Test
  void withoutAPurgeTheCopySurvives() throws Exception {
    String key = UUID.randomUUID().toString();
    assertThat(post(key).statusCode()).isEqualTo(201);
    mirrorDrained(0);
    redis.restart();
    HttpResponse<String> retry = post(key);
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executionsById.get(key).get()).isEqualTo(1);
  }

  // README redis+jdbc: "A request that was running on Redis when it died stores its response in
  // PostgreSQL." Here Redis dies and is back (empty) before the request ends.
  @Test
  void aRequestRunningWhileRedisRestartsKeepsItsResponse() throws Exception {
    String key = UUID.randomUUID().toString();
    app.entered = new java.util.concurrent.CountDownLatch(1);
    app.gate = new java.util.concurrent.CountDownLatch(1);
    var first = CLIENT.sendAsync(HttpRequest.newBuilder(server.uri("/echo?hold=1"))
        .header("Content-Type", "application/json").header("Idempotency-Key", key)
        .header("X-Test-Id", key).POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    redis.restart();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> redisStore.inspect("probe").isEmpty());
    app.gate.countDown();
    assertThat(first.get(10, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(201);

    HttpResponse<String> retry = CLIENT.send(HttpRequest.newBuilder(server.uri("/echo?hold=1"))
        .header("Content-Type", "application/json").header("Idempotency-Key", key)
        .header("X-Test-Id", key).POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executionsById.get(key).get()).isEqualTo(1);
  }
}
