package dev.idempotency.redis;

import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;

/**
 * Builds a {@link RedisStore} for {@code idempotency.store=redis} from {@code
 * idempotency.redis.uri} (default {@code redis://127.0.0.1:6379}). Stateless and thread-safe.
 */
public final class RedisStoreProvider implements StoreProvider {

  /** The URI used when {@code idempotency.redis.uri} is not set. */
  public static final String DEFAULT_URI = "redis://127.0.0.1:6379";

  @Override
  public String name() {
    return "redis";
  }

  @Override
  public IdempotencyStore create(StoreSettings settings) {
    String uri = settings.redisUri();
    return RedisStore.builder(uri == null || uri.isBlank() ? DEFAULT_URI : uri).build();
  }
}
