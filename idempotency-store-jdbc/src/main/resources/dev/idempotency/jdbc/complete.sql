-- Stores the response if :token still owns the in-flight record.
UPDATE idempotency_record
SET status = :status, headers = :headers, body = :body,
    locked_at = NULL, lock_expires_at = NULL,
    expires_at = now() + :retentionMillis * interval '1 millisecond'
WHERE key = :key AND token = :token AND status IS NULL
