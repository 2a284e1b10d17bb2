package dev.idempotency.spi;

/**
 * A store could not answer: connection refused, timeout, server error. The filter answers by
 * its fail mode (SPEC §8); it never turns this into a 500 of its own.
 */
public class StoreException extends RuntimeException {

  private final String store;

  public StoreException(String store, String message, Throwable cause) {
    super(store + ": " + message, cause);
    this.store = store;
  }

  /** The name of the store that failed. */
  public String store() {
    return store;
  }
}
