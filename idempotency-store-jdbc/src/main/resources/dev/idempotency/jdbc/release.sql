-- Deletes the in-flight record if :token still owns it, so a retry executes again.
DELETE FROM idempotency_record
WHERE key = :key AND token = :token AND status IS NULL
