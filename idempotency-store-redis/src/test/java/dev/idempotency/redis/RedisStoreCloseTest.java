package dev.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@link RedisStore#close()} returns once Lettuce's threads have ended. A servlet container looks
 * for the webapp's threads right after its filters' {@code destroy()}: Tomcat logged "The web
 * application [sample-webapp] appears to have started a thread named
 * [lettuce-eventExecutorLoop-1-2] but has failed to stop it" on undeploys where close() had
 * returned before Lettuce's shutdown finished.
 */
class RedisStoreCloseTest {

  @Test
  void closeReturnsOnceLettucesThreadsHaveEnded() {
    List<String> alive = new ArrayList<>();
    try (RedisProcess redis = RedisProcess.start()) {
      for (int i = 0; i < 5; i++) {
        Set<Thread> before = lettuceThreads();
        RedisStore store = RedisStore.builder(redis.uri()).build();
        store.acquire("close:" + i, "h", Duration.ofSeconds(30), Duration.ofHours(1));
        store.close();
        lettuceThreads().stream()
            .filter(t -> !before.contains(t))
            .forEach(t -> alive.add(t.getName()));
      }
    }
    assertThat(alive).as("Lettuce threads alive when close() returned").isEmpty();
  }

  private static Set<Thread> lettuceThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("lettuce-") && t.isAlive())
        .collect(Collectors.toSet());
  }
}
