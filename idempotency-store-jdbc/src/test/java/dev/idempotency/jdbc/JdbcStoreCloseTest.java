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
  // runs for weeks must not keep every thread it ever made, ended or not.
  @Test
  void aThreadOfTheStoreThatEndedIsNotKeptInMemory() throws Exception {
    try (PostgresProcess pg = PostgresProcess.start();
        JdbcStore store =
            JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build()) {
      store.acquire("kept", "h", Duration.ofSeconds(30), Duration.ofHours(1));
      List<WeakReference<Thread>> made = new ArrayList<>();
      storeThreads().forEach(t -> made.add(new WeakReference<>(t)));
      // The pool's adder, done filling the pool, ends after its 5 s idle time.
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
          .until(() -> made.stream().anyMatch(r -> r.get() == null
              || r.get().getState() == Thread.State.TERMINATED));
      // Another thread made after it: the store forgets the ended one.
      try (java.sql.Connection c = pg.dataSource().getConnection();
          java.sql.Statement st = c.createStatement()) {
        st.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            + " WHERE application_name = 'idempotency'");
      }
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
          .ignoreExceptions()
          .until(() -> store.acquire("kept:" + System.nanoTime(), "h", Duration.ofSeconds(30),
              Duration.ofHours(1)) != null);
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
          .untilAsserted(() -> {
            System.gc();
            assertThat(made.stream().filter(r -> r.get() != null
                    && r.get().getState() == Thread.State.TERMINATED).map(r -> r.get().getName()))
                .as("ended threads of the store still reachable").isEmpty();
          });
    }
  }

  private static Set<Thread> storeThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("idempotency-jdbc") && t.isAlive())
        .collect(Collectors.toSet());
  }
}
