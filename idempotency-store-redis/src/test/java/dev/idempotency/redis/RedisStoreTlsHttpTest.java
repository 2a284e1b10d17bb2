package dev.idempotency.redis;

import dev.idempotency.IdempotencyFilterHttpContract;
import dev.idempotency.spi.IdempotencyStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The filter's whole HTTP suite (SPEC §5, §6) over embedded Jetty, on a Redis that speaks only
 * TLS, through {@code rediss://} with the private CA trusted by the JVM's trust store (set for the
 * build only, then put back).
 */
class RedisStoreTlsHttpTest extends IdempotencyFilterHttpContract {

  @TempDir static Path dir;
  private static RedisProcess redis;
  private static RedisStore store;

  @BeforeAll
  static void startRedis() {
    TestCertificates certs = TestCertificates.create(dir);
    redis = RedisProcess.startTls(certs, RedisProcess.freePort(false), List.of());
    store = RedisStoreTlsTest.trusting(certs, () -> RedisStore.builder(redis.uri()).build());
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
