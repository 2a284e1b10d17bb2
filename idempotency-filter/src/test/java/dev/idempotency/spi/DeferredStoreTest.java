package dev.idempotency.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.TestClock;
import dev.idempotency.memory.MemoryStore;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DeferredStoreTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  private final TestClock clock = new TestClock();
  private final AtomicBoolean up = new AtomicBoolean();
  private final AtomicInteger tries = new AtomicInteger();
  private final MemoryStore backend = new MemoryStore();

  private IdempotencyStore build() {
    tries.incrementAndGet();
    if (!up.get()) {
      throw new StoreException("redis", "connection refused", null);
    }
    return backend;
  }

  @Test
  void triesAgainAtMostOncePerPeriodThenServesFromTheBuiltStore() {
    DeferredStore store = new DeferredStore("redis", this::build, Duration.ofSeconds(5), clock,
        new StoreException("redis", "connection refused", null));
    assertThat(store.status().serving()).isEqualTo("none");

    for (int i = 0; i < 10; i++) {
      assertThatThrownBy(() -> store.acquire("k", "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class).hasMessageContaining("connection refused");
    }
    assertThat(tries).hasValue(0);
    assertThat(store.watch("k")).isNull();

    clock.advance(Duration.ofSeconds(5));
    assertThatThrownBy(() -> store.acquire("k", "h", LOCK, RETENTION))
        .isInstanceOf(StoreException.class);
    assertThat(tries).hasValue(1);

    up.set(true);
    clock.advance(Duration.ofSeconds(4));
    assertThatThrownBy(() -> store.acquire("k", "h", LOCK, RETENTION))
        .isInstanceOf(StoreException.class);
    assertThat(tries).hasValue(1);

    clock.advance(Duration.ofSeconds(1));
    assertThat(store.acquire("k", "h", LOCK, RETENTION)).isInstanceOf(Acquisition.Acquired.class);
    assertThat(store.acquire("k", "h", LOCK, RETENTION)).isInstanceOf(Acquisition.InFlight.class);
    assertThat(tries).hasValue(2);
    assertThat(backend.size()).isEqualTo(1);
    assertThat(store.status().serving()).isEqualTo("memory");
  }

  @Test
  void withoutAPeriodEveryCallTriesAndAClosedStoreStopsTrying() {
    DeferredStore store = new DeferredStore("redis", this::build, Duration.ZERO, clock, null);
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> store.purge("k")).isInstanceOf(StoreException.class);
    }
    assertThat(tries).hasValue(3);
    store.close();
    up.set(true);
    assertThatThrownBy(() -> store.purge("k"))
        .isInstanceOf(StoreException.class).hasMessageContaining("closed");
    assertThat(tries).hasValue(3);
  }
}
