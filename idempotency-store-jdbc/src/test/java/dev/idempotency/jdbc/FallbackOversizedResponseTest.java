package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * README (redis): a response over proto-max-bulk-len "is not sent ...: the store releases the
 * claim instead". Under redis+jdbc, FallbackStore takes RedisStore's deliberate false for a claim
 * Redis lost ("restarted without its data?"), writes the response to PostgreSQL and counts a
 * fallback and a rescue, though Redis never failed.
 */
class FallbackOversizedResponseTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  @Test
  void aResponseRedisRefusesIsReleasedNotRescuedIntoPostgres() {
    try (PostgresProcess pg = PostgresProcess.start();
        RedisProcess redis = RedisProcess.start(RedisProcess.freePort(false),
            List.of("--proto-max-bulk-len", "1mb"))) {
      JdbcStore jdbc = JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user())
          .createSchema(true).build();
      try (FallbackStore store =
          FallbackStore.builder(RedisStore.builder(redis.uri()).build(), jdbc).build()) {
        String key = "oversized:" + UUID.randomUUID();
        long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
        boolean stored = store.complete(key, token,
            new StoredResponse(200, Map.of(), new byte[1_500_000]), RETENTION);

        assertThat(store.state().fallbacks()).as("Redis never failed").isZero();
        assertThat(store.state().rescued()).isZero();
        assertThat(stored).as("released, as with the redis store alone").isFalse();
      }
    }
  }
}
