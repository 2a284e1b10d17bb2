package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.DeferredStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoredResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * README (redis): a response over proto-max-bulk-len "is not sent ...: the store releases the
 * claim instead". Under redis+jdbc the same: not "rescued" into PostgreSQL as if Redis had lost
 * the claim (counted as a fallback, with a WARN that Redis restarted), and no claim of the key
 * left anywhere for a retry to meet.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FallbackOversizedResponseTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);
  private static final StoredResponse TOO_LARGE =
      new StoredResponse(200, Map.of(), new byte[1_500_000]);

  private PostgresProcess pg;
  private RedisProcess redis;

  @BeforeAll
  void start() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start(RedisProcess.freePort(false),
        List.of("--proto-max-bulk-len", "1mb"));
  }

  @AfterAll
  void stop() {
    redis.close();
    pg.close();
  }

  private JdbcStore jdbc() {
    return JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
  }

  @Test
  void aResponseRedisRefusesIsReleasedNotRescuedIntoPostgres() {
    assertReleasedNotRescued(RedisStore.builder(redis.uri()).build());
  }

  // Redis down at start-up: the store is a DeferredStore around it, which must answer too.
  @Test
  void alsoWhenRedisWasBuiltLate() {
    assertReleasedNotRescued(new DeferredStore("redis",
        () -> RedisStore.builder(redis.uri()).build(), Duration.ZERO, Clock.systemUTC(), null));
  }

  private void assertReleasedNotRescued(IdempotencyStore primary) {
    try (FallbackStore store = FallbackStore.builder(primary, jdbc()).build()) {
      String key = "oversized:" + UUID.randomUUID();
      long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
      assertThat(store.complete(key, token, TOO_LARGE, RETENTION))
          .as("released, as with the redis store alone").isFalse();
      assertThat(store.state().fallbacks()).as("Redis never failed").isZero();
      assertThat(store.state().rescued()).isZero();
      assertThat(store.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquisition.Acquired.class);
    }
  }

  // One Redis timeout opens the window in which keys are claimed on PostgreSQL too: the
  // PostgreSQL claim is released with the Redis one, not left to answer retries 409.
  @Test
  void inTheClaimBothWindowTheKeyIsReleasedOnBothStores() {
    RedisStore redisStore = RedisStore.builder(redis.uri())
        .commandTimeout(Duration.ofMillis(300)).build();
    try (FallbackStore store = FallbackStore.builder(redisStore, jdbc()).build()) {
      redis.pause();
      try {
        store.acquire("blip:" + UUID.randomUUID(), "h", LOCK, RETENTION);
      } finally {
        redis.resume();
      }
      String key = "oversized-both:" + UUID.randomUUID();
      long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
      assertThat(store.complete(key, token, TOO_LARGE, RETENTION)).isFalse();
      assertThat(store.acquire(key, "h", LOCK, RETENTION)).isInstanceOf(Acquisition.Acquired.class);
    }
  }
}
