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
 * {@code idempotency.jdbc.*} (a URL, or a container's DataSource by its JNDI name). Either may
 * be unreachable at start-up: the other serves (Redis alone copies nothing to PostgreSQL until it
 * is reached), and both down is the filter's fail-mode. Thread-safe.
 */
public final class FallbackStoreProvider implements StoreProvider {

  private static final Logger log = LoggerFactory.getLogger(FallbackStoreProvider.class);

  @Override
  public String name() {
    return "redis+jdbc";
  }

  @Override
  public IdempotencyStore create(StoreSettings settings) {
    // A bad jdbc setting stops start-up here; a container's DataSource is looked up once, on
    // the thread that has its JNDI context: the mirror thread may build the store later.
    JdbcStore.Builder jdbcBuilder = JdbcStoreProvider.builder(settings);
    JdbcStore jdbc;
    StoreException jdbcError = null;
    try {
      jdbc = jdbcBuilder.build();
    } catch (StoreException e) {
      jdbc = null;
      jdbcError = e;
    }
    RedisStoreProvider redisProvider = new RedisStoreProvider();
    IdempotencyStore redis;
    try {
      redis = redisProvider.create(settings);
    } catch (StoreException e) {
      if (jdbc == null) {
        // Neither answers: the filter defers the whole store and follows fail-mode.
        throw new StoreException("redis+jdbc", e.getMessage() + "; " + jdbcError.getMessage(), e);
      }
      log.warn("redis unreachable at start-up ({}); serving from jdbc until it answers",
          e.getMessage());
      // No wait between tries: the FallbackStore's breaker already spaces them out.
      redis = new DeferredStore("redis", () -> redisProvider.create(settings), Duration.ZERO,
          Clock.systemUTC(), e);
    } catch (RuntimeException e) {
      if (jdbc != null) {
        jdbc.close();
      }
      throw e;
    }
    if (jdbc == null) {
      log.warn("jdbc unreachable at start-up ({}); redis serves alone, copying nothing to "
          + "PostgreSQL, until it answers", jdbcError.getMessage());
      return FallbackStore.builder(redis, jdbcBuilder::build).build();
    }
    return FallbackStore.builder(redis, jdbc).build();
  }
}
