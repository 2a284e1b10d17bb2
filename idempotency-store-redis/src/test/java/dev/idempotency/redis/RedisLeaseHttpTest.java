package dev.idempotency.redis;

import dev.idempotency.LeaseAcrossInstancesHttpContract;
import dev.idempotency.spi.IdempotencyStore;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Leases across filter instances and a killed owner JVM (SPEC §5), on a real Redis. */
class RedisLeaseHttpTest extends LeaseAcrossInstancesHttpContract {

  private static RedisProcess redis;

  @BeforeAll
  static void startRedis() {
    redis = RedisProcess.start();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  @Override
  protected IdempotencyStore newStore() {
    return RedisStore.builder(redis.uri()).build();
  }

  @Override
  protected CuttableStore newCuttableStore() throws Exception {
    DroppingProxy proxy = new DroppingProxy(redis.port());
    RedisStore store = RedisStore.builder(proxy.uri()).build();
    return new CuttableStore() {
      @Override
      public IdempotencyStore store() {
        return store;
      }

      @Override
      public void cut() {
        proxy.cut();
      }

      @Override
      public void restore() {
        proxy.restore();
      }

      @Override
      public void close() {
        store.close();
        try {
          proxy.close();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    };
  }

  @Override
  protected Map<String, String> storeProperties() {
    return Map.of("idempotency.store", "redis", "idempotency.redis.uri", redis.uri());
  }
}
