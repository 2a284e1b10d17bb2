package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyFilter;
import dev.idempotency.JettyServer;
import dev.idempotency.TestApp;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.spi.StoreSettings;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * SPEC §8: redis+jdbc is Redis first, PostgreSQL behind it; only both down is fail-mode. With
 * PostgreSQL down at start-up the whole store was deferred and Redis protected nothing.
 */
class FallbackStoreStartUpTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  @Test
  void redisServesAloneWhilePostgresIsDownAtStartUpAndPostgresIsUsedOnceItAnswers()
      throws Exception {
    TestApp app = new TestApp();
    try (PostgresProcess pg = PostgresProcess.start(); RedisProcess redis = RedisProcess.start()) {
      pg.stop();
      FallbackStore store = (FallbackStore) new FallbackStoreProvider().create(new StoreSettings(
          redis.uri(), pg.jdbcUrl(), pg.user(), null, true, Duration.ofSeconds(30)));
      try (JettyServer server = JettyServer.start(IdempotencyFilter.builder(store).build(), app)) {
        String key = UUID.randomUUID().toString();
        HttpResponse<String> first = post(server, key);
        HttpResponse<String> retry = post(server, key);
        assertThat(first.statusCode()).isEqualTo(201);
        assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
        assertThat(app.executions).hasValue(1);
        assertThat(store.state().mirrored()).isZero();

        pg.startAgain();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
          post(server, UUID.randomUUID().toString());
          return store.state().mirrored() > 0;
        });
      } finally {
        store.close();
      }
    }
  }

  private static HttpResponse<String> post(JettyServer server, String key) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(server.uri("/echo"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json").header("Idempotency-Key", key)
        .POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
