-- Deletes whatever is held for :key, for operators.
DELETE FROM idempotency_record WHERE key = :key
