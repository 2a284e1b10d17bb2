package dev.idempotency;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreStatus;
import dev.idempotency.spi.StoredResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** A store that forwards every call; tests override one method to inject a failure. */
public class ForwardingStore implements IdempotencyStore {

  private final IdempotencyStore delegate;

  public ForwardingStore(IdempotencyStore delegate) {
    this.delegate = delegate;
  }

  @Override
  public Acquisition acquire(String key, String hash, Duration lock, Duration retention) {
    return delegate.acquire(key, hash, lock, retention);
  }

  @Override
  public boolean complete(String key, long token, StoredResponse response, Duration retention) {
    return delegate.complete(key, token, response, retention);
  }

  @Override
  public boolean release(String key, long token) {
    return delegate.release(key, token);
  }

  @Override
  public boolean renew(String key, long token, Duration lockTimeout) {
    return delegate.renew(key, token, lockTimeout);
  }

  @Override
  public Optional<RecordInfo> inspect(String key) {
    return delegate.inspect(key);
  }

  @Override
  public boolean purge(String key) {
    return delegate.purge(key);
  }

  @Override
  public List<RecordInfo> inFlightOlderThan(Duration olderThan, int limit) {
    return delegate.inFlightOlderThan(olderThan, limit);
  }

  @Override
  public CompletableFuture<Void> watch(String key) {
    return delegate.watch(key);
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public StoreStatus status() {
    return delegate.status();
  }
}
