package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.ref.WeakReference;
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

  // HikariCP's connection adder and closer end after 5 s idle and are made again whenever a
  // connection is added or retired (every max-lifetime, after a lost connection): a store that
  // runs for weeks must not keep every thread it ever made.
  @Test
  void aThreadOfTheStoreThatEndedIsNotKeptInMemory() throws Exception {
    StoreThreads factory = new StoreThreads("idempotency-jdbc");
    Thread ended = factory.newThread(() -> {});
    ended.start();
    ended.join();
    WeakReference<Thread> made = new WeakReference<>(ended);
    ended = null;
    Thread next = factory.newThread(() -> {});
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .until(() -> {
          System.gc();
          return made.get() == null;
        });
    assertThat(next.getState()).as("a thread made and not started yet").isEqualTo(
        Thread.State.NEW);
  }

  private static Set<Thread> storeThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("idempotency-jdbc") && t.isAlive())
        .collect(Collectors.toSet());
  }
}
