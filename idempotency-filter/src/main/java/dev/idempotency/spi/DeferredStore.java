package dev.idempotency.spi;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store whose backend was down when it was first needed, built on first use instead. Until it
 * is built, each call tries to build it, at most once per {@code retryEvery} (the calls in
 * between fail at once), and fails with {@link StoreException}; {@link #watch} and
 * {@link #status} answer without trying. Thread-safe.
 */
public final class DeferredStore implements IdempotencyStore {

  private static final Logger log = LoggerFactory.getLogger(DeferredStore.class);

  private final String name;
  private final Supplier<IdempotencyStore> factory;
  private final Duration retryEvery;
  private final Clock clock;
  private volatile IdempotencyStore delegate;
  private Instant nextAttempt;
  private String lastError;
  private boolean closed;

  /**
   * @param failure why building it just failed, or null if it was not tried yet; a failure
   *     makes the next try wait {@code retryEvery}
   */
  public DeferredStore(String name, Supplier<IdempotencyStore> factory, Duration retryEvery,
      Clock clock, StoreException failure) {
    this.name = name;
    this.factory = factory;
    this.retryEvery = retryEvery;
    this.clock = clock;
    this.lastError = failure == null ? null : failure.getMessage();
    this.nextAttempt = failure == null ? Instant.MIN : clock.instant().plus(retryEvery);
  }

  private IdempotencyStore delegate() {
    IdempotencyStore d = delegate;
    if (d != null) {
      return d;
    }
    synchronized (this) {
      if (closed) {
        throw new StoreException(name, "closed", null);
      }
      if (delegate != null) {
        return delegate;
      }
      Instant now = clock.instant();
      if (now.isBefore(nextAttempt)) {
        throw new StoreException(name, "unreachable: " + lastError, null);
      }
      nextAttempt = now.plus(retryEvery);
      try {
        delegate = factory.get();
      } catch (StoreException e) {
        lastError = e.getMessage();
        throw e;
      }
      log.info("idempotency store '{}' reached", name);
      return delegate;
    }
  }

  @Override
  public Acquisition acquire(
      String key, String requestHash, Duration lockTimeout, Duration retention) {
    return delegate().acquire(key, requestHash, lockTimeout, retention);
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    return delegate().complete(key, token, response, retention);
  }

  @Override
  public boolean release(String key, long token) {
    return delegate().release(key, token);
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    return delegate().renew(key, token, lockTimeout);
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    return delegate().inspect(key);
  }

  @Override
  public boolean purge(String key) {
    return delegate().purge(key);
  }

  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    return delegate().inFlightOlderThan(olderThan, limit);
  }

  @Override
  public CompletableFuture<Void> watch(String key) {
    IdempotencyStore d = delegate;
    return d == null ? null : d.watch(key);
  }

  @Override
  public String name() {
    return name;
  }

  /** Until built, nothing is known against it. */
  @Override
  public boolean takes(StoredResponse response) {
    IdempotencyStore d = delegate;
    return d == null || d.takes(response);
  }

  /** The store's own status once built; until then nothing serves. */
  @Override
  public StoreStatus status() {
    IdempotencyStore d = delegate;
    return d == null ? new StoreStatus("none", StoreStatus.Breaker.NONE, 0) : d.status();
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (delegate != null) {
      delegate.close();
    }
  }
}
