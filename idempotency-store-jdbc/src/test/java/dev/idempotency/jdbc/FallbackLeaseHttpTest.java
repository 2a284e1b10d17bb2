package dev.idempotency.jdbc;

import dev.idempotency.LeaseAcrossInstancesHttpContract;
import dev.idempotency.redis.DroppingProxy;
import dev.idempotency.redis.RedisProcess;
import dev.idempotency.redis.RedisStore;
import dev.idempotency.spi.IdempotencyStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Leases across filter instances and a killed owner JVM (SPEC §5), on redis+jdbc with a real
 * Redis and a real PostgreSQL. The owner cut off loses both.
 */
class FallbackLeaseHttpTest extends LeaseAcrossInstancesHttpContract {

  private static PostgresProcess pg;
  private static RedisProcess redis;

  @BeforeAll
  static void startServers() {
    pg = PostgresProcess.start();
    redis = RedisProcess.start();
    JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build().close();
  }

  @AfterAll
  static void stopServers() {
    redis.close();
    pg.close();
  }

  @Override
  protected IdempotencyStore newStore() {
    return FallbackStore.builder(RedisStore.builder(redis.uri()).build(),
        JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).build()).build();
  }

  @Override
  protected CuttableStore newCuttableStore() throws IOException {
    DroppingProxy proxy = new DroppingProxy(redis.port());
    CuttableStore jdbc = JdbcLeaseHttpTest.cuttable(pg);
    FallbackStore store = FallbackStore.builder(RedisStore.builder(proxy.uri()).build(),
        (JdbcStore) jdbc.store()).build();
    return new CuttableStore() {
      @Override
      public IdempotencyStore store() {
        return store;
      }

      @Override
      public void cut() {
        proxy.cut();
        jdbc.cut();
      }

      @Override
      public void restore() {
        proxy.restore();
        jdbc.restore();
      }

      @Override
      public void close() {
        store.close();
        try {
          proxy.close();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
  }

  @Override
  protected Map<String, String> storeProperties() {
    return Map.of("idempotency.store", "redis+jdbc", "idempotency.redis.uri", redis.uri(),
        "idempotency.jdbc.url", pg.jdbcUrl(), "idempotency.jdbc.user", pg.user());
  }
}
