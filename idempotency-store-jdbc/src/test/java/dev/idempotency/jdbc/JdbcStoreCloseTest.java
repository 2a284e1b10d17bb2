package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@link JdbcStore#close()} returns once its threads (its background purge, and the pool's when
 * it built the pool) have ended: a servlet container looks for a webapp's threads as soon as its
 * filters are destroyed and reports those still running as leaks.
 */
class JdbcStoreCloseTest {

  @Test
  void closeReturnsOnceTheStoresThreadsHaveEnded() {
    List<String> alive = new ArrayList<>();
    try (PostgresProcess pg = PostgresProcess.start()) {
      for (int i = 0; i < 5; i++) {
        Set<Thread> before = storeThreads();
        JdbcStore store =
            JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
        store.acquire("close:" + i, "h", Duration.ofSeconds(30), Duration.ofHours(1));
        store.close();
        storeThreads().stream()
            .filter(t -> !before.contains(t))
            .forEach(t -> alive.add(t.getName()));
      }
    }
    assertThat(alive).as("the store's threads alive when close() returned").isEmpty();
  }

  private static Set<Thread> storeThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("idempotency-jdbc") && t.isAlive())
        .collect(Collectors.toSet());
  }
}
