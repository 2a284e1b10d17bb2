package dev.idempotency.spi;

import java.time.Duration;

/**
 * What a store holds for one key, for operators: never the body or the caller's raw key.
 * Durations are measured by the store's clock. Immutable and thread-safe.
 *
 * @param key the store key (already a hash of scope and caller key)
 * @param age time since the record was created
 * @param lockAge time since the lock was taken or last renewed; null when completed
 * @param expiresIn time until the record expires (in flight: until its lock goes stale)
 * @param status the stored status; 0 when in flight
 * @param bodySize the stored body's size in bytes; 0 when in flight
 */
public record RecordInfo(
    String key,
    State state,
    String requestHash,
    Duration age,
    Duration lockAge,
    Duration expiresIn,
    int status,
    int bodySize) {

  /** Where a record is in its life. */
  public enum State {
    IN_FLIGHT,
    COMPLETED
  }
}
