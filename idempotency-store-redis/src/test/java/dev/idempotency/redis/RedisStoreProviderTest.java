package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import java.time.Duration;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class RedisStoreProviderTest {

  private static StoreSettings settings(String uri) {
    return new StoreSettings(uri, null, null, null, false, Duration.ofSeconds(30));
  }

  private static StoreProvider provider() {
    return ServiceLoader.load(StoreProvider.class).stream()
        .map(ServiceLoader.Provider::get)
        .filter(p -> p.name().equals("redis"))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void providerNamedRedisIsFoundAndBuildsAWorkingStore() {
    try (RedisProcess redis = RedisProcess.start();
        IdempotencyStore store = provider().create(settings(redis.uri()))) {
      assertThat(store.name()).isEqualTo("redis");
      assertThat(store.acquire("k", "h", Duration.ofSeconds(30), Duration.ofMinutes(1)))
          .isInstanceOf(Acquisition.Acquired.class);
    }
  }

  @Test
  void unreachableRedisFailsCreationNamingTheAddress() {
    int port = RedisProcess.freePort(false);
    assertThatThrownBy(() -> provider().create(settings("redis://127.0.0.1:" + port)))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("127.0.0.1:" + port);
  }

  @Test
  void badUriFailsWithTheSettingName() {
    assertThatThrownBy(() -> provider().create(settings("redis-cluster://")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idempotency.redis.uri");
  }
}
