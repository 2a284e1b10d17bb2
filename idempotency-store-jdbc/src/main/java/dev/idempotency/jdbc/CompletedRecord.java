package dev.idempotency.jdbc;

import dev.idempotency.spi.StoredResponse;
import java.time.Duration;

/**
 * A record completed in another store, to be written here by {@link JdbcStore#mirror}.
 * {@code tombstoneSeen}: when the purge's tombstone its claim saw was written (the key was
 * purged before it ran), so this copy may replace that tombstone, not a later purge's; null if
 * its claim saw none.
 */
record CompletedRecord(
    String key,
    String requestHash,
    long token,
    StoredResponse response,
    Duration retention,
    java.time.OffsetDateTime tombstoneSeen) {}
