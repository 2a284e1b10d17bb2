package dev.idempotency.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.TestClock;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.IdempotencyStoreContract;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MemoryStoreTest extends IdempotencyStoreContract {

  private final TestClock clock = new TestClock();
  private final MemoryStore store = new MemoryStore(10_000, clock);

  @Override
  protected IdempotencyStore store() {
    return store;
  }

  @Override
  protected IdempotencyStore secondStore() {
    return store;
  }

  @Override
  protected void advance(Duration duration) {
    clock.advance(duration);
  }

  @Test
  void staysWithinItsBoundByEvictingCompletedRecords() {
    MemoryStore small = new MemoryStore(100, clock);
    for (int i = 0; i < 1_000; i++) {
      String key = "k" + i;
      Acquisition a = small.acquire(key, "h", LONG, RETENTION);
      small.complete(key, ((Acquisition.Acquired) a).token(), response(200, "x"), RETENTION);
    }
    assertThat(small.size()).isLessThanOrEqualTo(101);
  }

  @Test
  void neverEvictsALiveLock() {
    MemoryStore small = new MemoryStore(10, clock);
    for (int i = 0; i < 50; i++) {
      small.acquire("k" + i, "h", LONG, RETENTION);
    }
    for (int i = 0; i < 50; i++) {
      assertThat(small.acquire("k" + i, "h", LONG, RETENTION))
          .isInstanceOf(Acquisition.InFlight.class);
    }
  }
}
