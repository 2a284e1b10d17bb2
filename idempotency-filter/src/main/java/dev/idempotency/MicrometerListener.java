package dev.idempotency;

import dev.idempotency.spi.IdempotencyStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The meters of SPEC §10 on a Micrometer registry; with the Prometheus registry they appear as
 * {@code idempotency_requests_total{outcome}}, {@code idempotency_store_seconds{store,op}},
 * {@code idempotency_stale_recovered_total}, {@code idempotency_fallback_total},
 * {@code idempotency_inflight} and {@code idempotency_complete_retries_total{result}}.
 * Thread-safe.
 *
 * <p>{@code idempotency_fallback_total} is read from the {@link IdempotencyStore#status()} of
 * the stores the filters use ({@link #storeOpened}); a closed store's count is kept, so the
 * counter never goes down.
 *
 * <p>Only loaded when Micrometer is on the classpath: the filter runs without it.
 */
public final class MicrometerListener implements IdempotencyListener {

  private final MeterRegistry registry;
  private final Counter[] outcomes = new Counter[Outcome.values().length];
  private final Counter staleRecovered;
  private final Counter retrySucceeded;
  private final Counter retryFailed;
  private final Shared shared;
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  /**
   * What every listener on one registry shares. A meter is registered once per registry: a
   * second listener's registration returns the first one's meter, which reads the first one's
   * state, so the state itself must be shared (two filters on one registry).
   */
  private static final class Shared {
    final AtomicInteger inFlight = new AtomicInteger();
    final Set<IdempotencyStore> stores = ConcurrentHashMap.newKeySet();
    long closedStoresFallbacks;

    synchronized double fallbacks() {
      long sum = closedStoresFallbacks;
      for (IdempotencyStore store : stores) {
        sum += store.status().fallbacks();
      }
      return sum;
    }

    synchronized void closed(IdempotencyStore store) {
      if (stores.remove(store)) {
        closedStoresFallbacks += store.status().fallbacks();
      }
    }
  }

  /** Weak keys: a registry no one uses any more takes its state with it. */
  private static final Map<MeterRegistry, Shared> SHARED =
      java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

  /**
   * A listener on Micrometer's global registry, once per JVM, so two filters (or a redeploy in
   * one container) share the same meters.
   */
  static IdempotencyListener global() {
    return GLOBAL;
  }

  private static final MicrometerListener GLOBAL =
      new MicrometerListener(io.micrometer.core.instrument.Metrics.globalRegistry);

  public MicrometerListener(MeterRegistry registry) {
    this.registry = registry;
    this.shared = SHARED.computeIfAbsent(registry, r -> new Shared());
    for (Outcome outcome : Outcome.values()) {
      outcomes[outcome.ordinal()] = Counter.builder("idempotency.requests")
          .description("Requests the idempotency filter handled, by outcome")
          .tag("outcome", outcome.label())
          .register(registry);
    }
    staleRecovered = Counter.builder("idempotency.stale.recovered")
        .description("Stale locks of dead owners taken over")
        .register(registry);
    retrySucceeded = Counter.builder("idempotency.complete.retries")
        .description("Background retries of a failed complete or release, by result")
        .tag("result", "succeeded").register(registry);
    retryFailed = Counter.builder("idempotency.complete.retries")
        .description("Background retries of a failed complete or release, by result")
        .tag("result", "failed").register(registry);
    Gauge.builder("idempotency.inflight", shared.inFlight, AtomicInteger::get)
        .description("Requests executing under a lock now")
        .register(registry);
    FunctionCounter.builder("idempotency.fallback", shared, Shared::fallbacks)
        .description("Claims answered by JDBC because Redis was down")
        .register(registry);
  }

  @Override
  public void storeOpened(IdempotencyStore store) {
    shared.stores.add(store);
  }

  @Override
  public void storeClosed(IdempotencyStore store) {
    shared.closed(store);
  }

  @Override
  public void outcome(Outcome outcome) {
    outcomes[outcome.ordinal()].increment();
  }

  @Override
  public void storeCall(String store, String op, long nanos) {
    timers.computeIfAbsent(store + '\0' + op, k -> Timer.builder("idempotency.store")
        .description("Store round trips by store and operation")
        .tags("store", store, "op", op)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1).dividedBy(20))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void staleRecovered() {
    staleRecovered.increment();
  }

  @Override
  public void inFlight(int delta) {
    shared.inFlight.addAndGet(delta);
  }

  @Override
  public void completeRetried(boolean succeeded) {
    (succeeded ? retrySucceeded : retryFailed).increment();
  }
}
