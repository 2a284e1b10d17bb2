-- Deletes one bounded batch of expired rows. A row taken over by an acquire meanwhile has a new
-- version with another ctid, so the DELETE's recheck skips it.
DELETE FROM idempotency_record
WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM idempotency_record WHERE expires_at <= now() LIMIT :batchSize))
