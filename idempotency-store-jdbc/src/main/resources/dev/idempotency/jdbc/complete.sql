-- Stores the response if :token still owns the in-flight record.
-- The record keeps the expiry its claim gave it (claim + retention) when that is exactly claim +
-- retention (retention at least the lock timeout, no renewal extended it) and the request
-- finished within one lock timeout and within 1 % of the retention: the UPDATE then changes no
-- indexed column, so PostgreSQL can make it a HOT update, with no new index entries (a fifth less
-- WAL per first-time request, docs/BENCHMARKS.md). The response is then kept for the retention
-- less at most the smaller of the lock timeout and 1 % of the retention (24 h and 30 s by
-- default: at most 30 s less). Otherwise it expires one retention after its completion.
UPDATE idempotency_record
SET status = :status, headers = :headers, body = :body,
    locked_at = NULL, lock_expires_at = NULL,
    expires_at = CASE
      WHEN expires_at = created_at + :retentionMillis * interval '1 millisecond'
       AND now() < created_at
                   + least(lock_expires_at - locked_at, :retentionMillis * interval '10 microseconds')
      THEN expires_at
      ELSE now() + :retentionMillis * interval '1 millisecond'
    END
WHERE key = :key AND token = :token AND status IS NULL
