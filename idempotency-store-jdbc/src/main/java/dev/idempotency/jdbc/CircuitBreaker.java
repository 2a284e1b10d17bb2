package dev.idempotency.jdbc;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Guards calls to one store. Closed: calls go through; after {@code failureThreshold} failures
 * in a row it opens, and calls are refused without touching the store. Once {@code coolDown}
 * has passed, one call is let through as a probe (half-open): its success closes the breaker,
 * its failure opens it for another cool-down. Time comes from the injected {@link Clock}.
 * Thread-safe; the closed state is read without locking.
 */
final class CircuitBreaker {

  private final Clock clock;
  private final int failureThreshold;
  private final Duration coolDown;
  private volatile FallbackStore.Breaker state = FallbackStore.Breaker.CLOSED;
  private volatile int failures;
  private Instant openedAt;
  private Instant probeStartedAt;

  CircuitBreaker(Clock clock, int failureThreshold, Duration coolDown) {
    this.clock = clock;
    this.failureThreshold = failureThreshold;
    this.coolDown = coolDown;
  }

  /** Whether a call may go to the store now; in half-open state only the one probe may. */
  boolean allows() {
    if (state == FallbackStore.Breaker.CLOSED) {
      return true;
    }
    synchronized (this) {
      Instant now = clock.instant();
      switch (state) {
        case CLOSED:
          return true;
        case OPEN:
          if (now.isBefore(openedAt.plus(coolDown))) {
            return false;
          }
          state = FallbackStore.Breaker.HALF_OPEN;
          probeStartedAt = now;
          return true;
        default:
          // A probe that never reported back (its caller died) must not keep the breaker stuck.
          if (now.isBefore(probeStartedAt.plus(coolDown))) {
            return false;
          }
          probeStartedAt = now;
          return true;
      }
    }
  }

  /** @return true if this success closed an open or half-open breaker */
  boolean onSuccess() {
    if (state == FallbackStore.Breaker.CLOSED && failures == 0) {
      return false;
    }
    synchronized (this) {
      boolean closed = state != FallbackStore.Breaker.CLOSED;
      failures = 0;
      state = FallbackStore.Breaker.CLOSED;
      return closed;
    }
  }

  /** @return true if this failure opened the breaker */
  synchronized boolean onFailure() {
    if (state == FallbackStore.Breaker.CLOSED && ++failures < failureThreshold) {
      return false;
    }
    boolean opened = state == FallbackStore.Breaker.CLOSED;
    state = FallbackStore.Breaker.OPEN;
    openedAt = clock.instant();
    return opened;
  }

  FallbackStore.Breaker state() {
    return state;
  }
}
