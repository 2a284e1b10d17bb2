package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * README: "the purge's tombstone keeps out only copies claimed before it". A copy claimed after
 * an earlier purge may replace that purge's tombstone only: it replaced any, also that of a
 * purge made after it completed, which was undone and the purged response replayed.
 */
class FallbackSecondPurgeTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  @Test
  void aSecondPurgeIsNotUndoneByACopyStillOnItsWay() throws Exception {
    try (PostgresProcess pg = PostgresProcess.start()) {
      CountDownLatch mirrorWaiting = new CountDownLatch(1);
      CountDownLatch letMirrorGo = new CountDownLatch(1);
      boolean[] gate = {false};
      DataSource real = pg.dataSource();
      DataSource gated = new HookedDataSource(real, () -> {
        if (gate[0] && Thread.currentThread().getName().equals("idempotency-mirror")) {
          mirrorWaiting.countDown();
          try {
            letMirrorGo.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
      JdbcStore jdbc = JdbcStore.builder().dataSource(gated).createSchema(true)
          .purgeInterval(Duration.ZERO).build();
      // The primary stands in for Redis: it answers every call.
      try (FallbackStore store = FallbackStore.builder(new MemoryStore(), jdbc).build()) {
        String key = "purged-twice:" + UUID.randomUUID();
        store.purge(key); // first purge: a tombstone

        // Run again after the purge (the claim sees the tombstone), completed.
        long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, RETENTION)).token();
        gate[0] = true; // its copy to PostgreSQL is slow
        assertThat(store.complete(key, token,
            new StoredResponse(201, Map.of(), "first".getBytes()), RETENTION)).isTrue();
        assertThat(mirrorWaiting.await(10, TimeUnit.SECONDS)).isTrue();

        // The operator purges the key again, after it completed.
        store.purge(key);
        gate[0] = false;
        letMirrorGo.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> store.state().mirrorPending() == 0);

        // The purge means: run it again. The copy brought the purged response back.
        Acquisition next = store.acquire(key, "h", LOCK, RETENTION);
        assertThat(next).isInstanceOf(Acquisition.Acquired.class);
      }
    }
  }
}
