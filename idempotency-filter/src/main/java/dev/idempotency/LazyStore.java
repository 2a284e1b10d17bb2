package dev.idempotency;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import dev.idempotency.spi.StoreStatus;
import dev.idempotency.spi.StoredResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A configured store that could not be reached at start-up. The application starts anyway; each
 * call fails fast with {@link StoreException} (so the fail mode answers) and, at most every five
 * seconds, one call tries to connect again. Thread-safe.
 */
final class LazyStore implements IdempotencyStore {

  private static final Logger log = LoggerFactory.getLogger(LazyStore.class);
  private static final Duration RETRY_EVERY = Duration.ofSeconds(5);

  private final StoreProvider provider;
  private final StoreSettings settings;
  private final Clock clock;
  private volatile IdempotencyStore delegate;
  private volatile Instant nextAttempt;
  private volatile String lastError;

  private LazyStore(StoreProvider provider, StoreSettings settings, Clock clock, String error) {
    this.provider = provider;
    this.settings = settings;
    this.clock = clock;
    this.lastError = error;
    this.nextAttempt = clock.instant().plus(RETRY_EVERY);
  }

  /** The provider's store, or a lazy one that keeps trying if the backend is down now. */
  static IdempotencyStore open(StoreProvider provider, StoreSettings settings, Clock clock) {
    try {
      return provider.create(settings);
    } catch (StoreException e) {
      log.error("idempotency store '{}' unreachable at start-up: {}. Requests follow "
          + "idempotency.fail-mode until it can be reached; retrying every {}s.",
          provider.name(), e.getMessage(), RETRY_EVERY.toSeconds());
      return new LazyStore(provider, settings, clock, e.getMessage());
    }
  }

  private IdempotencyStore delegate() {
    IdempotencyStore d = delegate;
    if (d != null) {
      return d;
    }
    synchronized (this) {
      if (delegate != null) {
        return delegate;
      }
      Instant now = clock.instant();
      if (now.isBefore(nextAttempt)) {
        throw new StoreException(provider.name(), "unreachable: " + lastError, null);
      }
      nextAttempt = now.plus(RETRY_EVERY);
      try {
        delegate = provider.create(settings);
        log.info("idempotency store '{}' reached", provider.name());
        return delegate;
      } catch (StoreException e) {
        lastError = e.getMessage();
        throw e;
      }
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
    return provider.name();
  }

  /** The store's own status once reached; until then nothing serves. */
  @Override
  public StoreStatus status() {
    IdempotencyStore d = delegate;
    return d == null ? new StoreStatus("none", StoreStatus.Breaker.NONE, 0) : d.status();
  }

  @Override
  public void close() {
    IdempotencyStore d = delegate;
    if (d != null) {
      d.close();
    }
  }
}
