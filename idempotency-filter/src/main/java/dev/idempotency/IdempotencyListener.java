package dev.idempotency;

import dev.idempotency.spi.IdempotencyStore;

/**
 * Hears what the filter does, for metrics and tests. Methods are called on request threads and
 * must be fast and thread-safe; every method does nothing by default.
 */
public interface IdempotencyListener {

  /** Hears nothing. */
  IdempotencyListener NONE = new IdempotencyListener() {};

  /** One request's outcome. */
  default void outcome(Outcome outcome) {}

  /** One store call: {@code op} is acquire, complete, release or renew. */
  default void storeCall(String store, String op, long nanos) {}

  /** A dead owner's stale lock was taken over. */
  default void staleRecovered() {}

  /** A request started ({@code +1}) or finished ({@code -1}) executing under a lock. */
  default void inFlight(int delta) {}

  /**
   * The filter started using {@code store}; a listener may read its
   * {@link IdempotencyStore#status()} from then on.
   */
  default void storeOpened(IdempotencyStore store) {}

  /** The filter stopped using {@code store} (it is being closed). */
  default void storeClosed(IdempotencyStore store) {}

  /** A failed {@code complete} was retried in the background; {@code succeeded} says how. */
  default void completeRetried(boolean succeeded) {}
}
