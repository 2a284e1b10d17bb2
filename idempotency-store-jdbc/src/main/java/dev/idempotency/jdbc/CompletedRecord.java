package dev.idempotency.jdbc;

import dev.idempotency.spi.StoredResponse;
import java.time.Duration;

/**
 * A record completed in another store, to be written here by {@link JdbcStore#mirror}.
 * {@code afterPurge}: claimed after the key was purged (its claim saw the purge's tombstone), so
 * this copy may replace the tombstone that keeps older copies out.
 */
record CompletedRecord(
    String key,
    String requestHash,
    long token,
    StoredResponse response,
    Duration retention,
    boolean afterPurge) {}
