-- Extends a live owner's lock (lease renewal) if :token still owns it.
UPDATE idempotency_record
SET locked_at = now(),
    lock_expires_at = now() + :lockMillis * interval '1 millisecond',
    expires_at = greatest(expires_at, now() + :lockMillis * interval '1 millisecond')
WHERE key = :key AND token = :token AND status IS NULL
