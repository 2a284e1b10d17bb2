package dev.idempotency.jdbc;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A store that could not be built at start-up (its server was down), built on first use instead.
 * Until then every call tries to build it and fails with {@link StoreException}; the
 * {@link FallbackStore}'s breaker limits those tries to one per cool-down. Thread-safe.
 */
final class DeferredStore implements IdempotencyStore {

  private final Supplier<IdempotencyStore> factory;
  private final String name;
  private volatile IdempotencyStore delegate;
  private volatile boolean closed;

  DeferredStore(Supplier<IdempotencyStore> factory, String name) {
    this.factory = factory;
    this.name = name;
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
      if (delegate == null) {
        delegate = factory.get();
      }
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

  @Override
  public synchronized void close() {
    closed = true;
    if (delegate != null) {
      delegate.close();
    }
  }
}
