package dev.idempotency.redis;

import dev.idempotency.IdempotencyFilterHttpContract;
import dev.idempotency.spi.IdempotencyStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The filter's whole HTTP suite (SPEC §5, §6) over embedded Jetty, on a real Redis. */
class RedisStoreHttpTest extends IdempotencyFilterHttpContract {

  private static RedisProcess redis;
  private static RedisStore store;

  @BeforeAll
  static void startRedis() {
    redis = RedisProcess.start();
    store = RedisStore.builder(redis.uri()).build();
  }

  @AfterAll
  static void stopRedis() {
    store.close();
    redis.close();
  }

  @Override
  protected IdempotencyStore store() {
    return store;
  }
}
