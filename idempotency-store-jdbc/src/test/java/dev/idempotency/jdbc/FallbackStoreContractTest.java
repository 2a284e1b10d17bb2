package dev.idempotency.jdbc;

import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The store contract for redis+jdbc with both servers up: two instances as two JVMs. */
class FallbackStoreContractTest extends IdempotencyStoreContract {

  private PostgresProcess pg;
  private RedisProcess redis;
  private FallbackStore first;
  private FallbackStore second;

  @BeforeAll
  void startServers() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start();
    first = fallbackStore();
    second = fallbackStore();
  }

  private FallbackStore fallbackStore() {
    JdbcStore jdbc =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
    return FallbackStore.builder(RedisStore.builder(redis.uri()).build(), jdbc).build();
  }

  @AfterAll
  void stopServers() {
    first.close();
    second.close();
    redis.close();
    pg.close();
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
