package dev.idempotency.spi;

/**
 * Builds a store named by the {@code idempotency.store} setting. Found with
 * {@link java.util.ServiceLoader}: a store module lists its provider in
 * {@code META-INF/services/dev.idempotency.spi.StoreProvider}. Implementations must be
 * thread-safe and cheap to construct.
 */
public interface StoreProvider {

  /** The setting value this provider answers to: {@code redis}, {@code jdbc}, {@code redis+jdbc}. */
  String name();

  /**
   * Builds the store, connecting as needed.
   *
   * @throws StoreException if the backend cannot be reached; the message must say which
   *     address was tried, without a password
   * @throws IllegalArgumentException if a setting is invalid, naming the setting and its value
   */
  IdempotencyStore create(StoreSettings settings);
}
