package dev.idempotency.jdbc;

import dev.idempotency.spi.StoredResponse;
import java.time.Duration;

/** A record completed in another store, to be written here by {@link JdbcStore#mirror}. */
record CompletedRecord(
    String key, String requestHash, long token, StoredResponse response, Duration retention) {}
