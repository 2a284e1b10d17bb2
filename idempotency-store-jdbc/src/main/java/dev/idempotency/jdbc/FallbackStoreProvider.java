package dev.idempotency.jdbc;

import dev.idempotency.redis.RedisStoreProvider;
import dev.idempotency.spi.DeferredStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link FallbackStore} for {@code idempotency.store=redis+jdbc}: a {@code RedisStore}
 * from {@code idempotency.redis.uri} in front of a {@link JdbcStore} from
 * {@code idempotency.jdbc.*}. PostgreSQL must be reachable at start-up; Redis need not be (JDBC
 * serves until it is). Thread-safe.
 */
public final class FallbackStoreProvider implements StoreProvider {

  private static final Logger log = LoggerFactory.getLogger(FallbackStoreProvider.class);

  @Override
  public String name() {
    return "redis+jdbc";
  }

  @Override
  public IdempotencyStore create(StoreSettings settings) {
    JdbcStore jdbc = JdbcStoreProvider.build(settings);
    RedisStoreProvider redisProvider = new RedisStoreProvider();
    IdempotencyStore redis;
    try {
      redis = redisProvider.create(settings);
    } catch (StoreException e) {
      log.warn("redis unreachable at start-up ({}); serving from jdbc until it answers",
          e.getMessage());
      // No wait between tries: the FallbackStore's breaker already spaces them out.
      redis = new DeferredStore("redis", () -> redisProvider.create(settings), Duration.ZERO,
          Clock.systemUTC(), e);
    } catch (RuntimeException e) {
      jdbc.close();
      throw e;
    }
    return FallbackStore.builder(redis, jdbc).build();
  }
}
