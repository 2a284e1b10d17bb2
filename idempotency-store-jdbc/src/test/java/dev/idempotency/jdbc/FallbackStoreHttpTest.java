package dev.idempotency.jdbc;

import dev.idempotency.IdempotencyFilterHttpContract;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.IdempotencyStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The filter's whole HTTP suite (SPEC §5, §6) over embedded Jetty, on redis+jdbc with both a
 * real Redis and a real PostgreSQL up.
 */
class FallbackStoreHttpTest extends IdempotencyFilterHttpContract {

  private static PostgresProcess pg;
  private static RedisProcess redis;
  private static FallbackStore store;

  @BeforeAll
  static void startServers() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start();
    JdbcStore jdbc =
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
    store = FallbackStore.builder(RedisStore.builder(redis.uri()).build(), jdbc).build();
  }

  @AfterAll
  static void stopServers() {
    store.close();
    redis.close();
    pg.close();
  }

  @Override
  protected IdempotencyStore store() {
    return store;
  }
}
