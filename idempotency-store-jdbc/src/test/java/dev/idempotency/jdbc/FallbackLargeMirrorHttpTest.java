package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.EmbeddedContainer;
import dev.idempotency.EmbeddedContainer.Kind;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.IdempotencyFilterTestAccess;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC §8 redis+jdbc: a completed response of max-response-bytes, binary, is mirrored to
 * PostgreSQL whole, and replayed from there byte for byte once Redis is gone.
 */
class FallbackLargeMirrorHttpTest {

  private static final int LIMIT = 1024 * 1024;
  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private static PostgresProcess pg;
  private RedisProcess redis;
  private FallbackStore store;
  private EmbeddedContainer container;
  private final LargeBodiesHttpTest.App app = new LargeBodiesHttpTest.App();

  @BeforeAll
  static void startPostgres() {
    pg = PostgresProcess.start();
  }

  @AfterAll
  static void stopPostgres() {
    pg.close();
  }

  @BeforeEach
  void start() {
    redis = RedisProcess.start();
    store = FallbackStore.builder(RedisStore.builder(redis.uri()).build(),
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build()).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
    store.close();
    redis.close();
  }

  private HttpResponse<byte[]> post(String key) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + container.port()
            + "/bin?size=" + LIMIT + "&writes=small&declared=false"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .header("X-Test-Id", key)
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aMegabyteResponseIsMirroredWholeAndReplayedFromPostgresWhenRedisIsGone(Kind kind)
      throws Exception {
    container = EmbeddedContainer.start(kind, IdempotencyFilter.builder(store).build(),
        new EmbeddedContainer.App().servlet("/*", app));
    String expected = LargeBodiesHttpTest.sha256(LargeBodiesHttpTest.App.binary(LIMIT));
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = post(key);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(LargeBodiesHttpTest.sha256(first.body())).isEqualTo(expected);

    await().atMost(Duration.ofSeconds(10))
        .until(() -> store.state().mirrored() == 1 && store.state().mirrorPending() == 0);
    try (Connection c = pg.dataSource().getConnection();
        PreparedStatement q = c.prepareStatement(
            "SELECT status, headers, body FROM idempotency_record WHERE key = ?")) {
      q.setString(1, IdempotencyFilterTestAccess.storeKeyOf(key));
      try (ResultSet row = q.executeQuery()) {
        assertThat(row.next()).isTrue();
        assertThat(row.getInt("status")).isEqualTo(200);
        assertThat(row.getString("headers")).contains("X-Execution: 1")
            .contains("Content-Type: application/octet-stream");
        assertThat(LargeBodiesHttpTest.sha256(row.getBytes("body"))).isEqualTo(expected);
      }
    }

    redis.stop();
    for (int i = 0; i < 2; i++) {
      HttpResponse<byte[]> replay = post(key);
      assertThat(replay.statusCode()).isEqualTo(200);
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
      assertThat(replay.headers().firstValue("X-Execution")).contains("1");
      assertThat(LargeBodiesHttpTest.sha256(replay.body())).isEqualTo(expected);
    }
    assertThat(app.runs(key)).isEqualTo(1);
    assertThat(store.state().fallbacks()).isPositive();
  }
}
