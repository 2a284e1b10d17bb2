package dev.idempotency.redis;

import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The store contract against a real standalone redis-server, two stores as two JVMs. */
class RedisStoreTest extends IdempotencyStoreContract {

  private RedisProcess redis;
  private RedisStore first;
  private RedisStore second;

  @BeforeAll
  void startRedis() {
    redis = RedisProcess.start();
    first = RedisStore.builder(redis.uri()).build();
    second = RedisStore.builder(redis.uri()).build();
  }

  @AfterAll
  void stopRedis() {
    first.close();
    second.close();
    redis.close();
  }

  @Override
  protected IdempotencyStore store() {
    return first;
  }

  @Override
  protected IdempotencyStore secondStore() {
    return second;
  }
}
