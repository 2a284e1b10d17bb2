package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.ForwardingStore;
import dev.idempotency.TestClock;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * SPEC §8 / README: a complete that fails after the handler ran is retried in the background
 * until the lock would expire. The filter retries only on a StoreException: FallbackStore must
 * not answer {@code false} ("the claim is gone") when both breakers are open and nobody answered
 * (it did, and nothing retried).
 */
class FallbackBothDownCompleteTest {

  private static final Duration LOCK = Duration.ofSeconds(30);

  @Test
  void aCompleteWithBothBreakersOpenFailsSoTheFilterRetriesIt() {
    try (PostgresProcess pg = PostgresProcess.start()) {
      // "Redis": a memory store that can be switched off.
      MemoryStore memory = new MemoryStore();
      boolean[] redisDown = {false};
      ForwardingStore redis = new ForwardingStore(memory) {
        @Override
        public Acquisition acquire(String key, String hash, Duration lock, Duration retention) {
          if (redisDown[0]) {
            throw new StoreException("redis", "down", null);
          }
          return super.acquire(key, hash, lock, retention);
        }

        @Override
        public boolean complete(String key, long token, StoredResponse r, Duration retention) {
          if (redisDown[0]) {
            throw new StoreException("redis", "down", null);
          }
          return super.complete(key, token, r, retention);
        }
      };
      // PostgreSQL whose connections can be refused, as when it is unreachable.
      boolean[] pgDown = {false};
      DataSource real = pg.dataSource();
      DataSource switchable = new HookedDataSource(real, () -> {
        if (pgDown[0]) {
          throw new SQLException("Connection refused", "08001");
        }
      });
      JdbcStore jdbc = JdbcStore.builder().dataSource(switchable).createSchema(true)
          .purgeInterval(Duration.ZERO).build();
      TestClock clock = new TestClock(); // breakers stay open: their cool-down never passes
      try (FallbackStore store = FallbackStore.builder(redis, jdbc).clock(clock).build()) {
        String key = "both-down:" + UUID.randomUUID();
        long token = ((Acquisition.Acquired) store.acquire(key, "h", LOCK, LOCK)).token();

        // Both go away while the handler runs; other requests open both breakers.
        redisDown[0] = true;
        pgDown[0] = true;
        for (int i = 0; i < 3; i++) {
          assertThatThrownBy(() -> store.acquire("other:" + UUID.randomUUID(), "h", LOCK, LOCK))
              .isInstanceOf(StoreException.class);
        }
        assertThat(store.state().breaker()).isEqualTo(FallbackStore.Breaker.OPEN);

        StoredResponse response = new StoredResponse(201, Map.of(), "paid".getBytes());
        // Before this change: StoreException "complete: both stores unavailable (redis: circuit
        // open; jdbc: circuit open)", and the filter retried it until the lock would expire.
        assertThatThrownBy(() -> store.complete(key, token, response, LOCK))
            .isInstanceOf(StoreException.class);
      }
    }
  }
}
