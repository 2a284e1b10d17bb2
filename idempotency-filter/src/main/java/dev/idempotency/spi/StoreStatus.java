package dev.idempotency.spi;

import java.util.Locale;
import java.util.Objects;

/**
 * What a store is doing now, for metrics and dashboards (SPEC §10). Immutable and thread-safe.
 *
 * @param serving the name of the store that answers new requests: the store's own name, or for
 *     a store with a fallback the one serving now ({@code jdbc} while Redis is down); {@code none}
 *     when no store can be reached
 * @param breaker the circuit breaker in front of the primary store; {@link Breaker#NONE} for a
 *     store without one
 * @param fallbacks claims answered by the fallback store because the primary was down,
 *     counted since the store was created; never decreases
 */
public record StoreStatus(String serving, Breaker breaker, long fallbacks) {

  /** A circuit breaker's state. */
  public enum Breaker {
    /** The store has no breaker. */
    NONE,
    /** Calls go to the primary store. */
    CLOSED,
    /** The primary failed: calls skip it until a cool-down is over. */
    OPEN,
    /** One probe is trying the primary; the other calls still skip it. */
    HALF_OPEN;

    /** {@code none}, {@code closed}, {@code open}, {@code half_open}. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public StoreStatus {
    Objects.requireNonNull(serving, "serving");
    Objects.requireNonNull(breaker, "breaker");
    if (fallbacks < 0) {
      throw new IllegalArgumentException("fallbacks must not be negative: " + fallbacks);
    }
  }

  /** A store without breaker or fallback: {@code name} serves. */
  public static StoreStatus serving(String name) {
    return new StoreStatus(name, Breaker.NONE, 0);
  }
}
