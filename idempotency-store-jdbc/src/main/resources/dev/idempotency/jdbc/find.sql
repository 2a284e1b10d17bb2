-- The live record for :key, if any (read-only): the redis+jdbc read-through after a Redis miss.
-- Also a purge's tombstone (token 0) while it lives: a copy still queued in this JVM must not
-- bring the purged record back.
SELECT request_hash, status, headers, body,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
         AS lock_expires_in_micros,
       CAST(floor(extract(epoch FROM expires_at - now()) * 1000000) AS bigint) AS expires_in_micros,
       status IS NULL AND token = 0 AS tombstone, created_at
FROM idempotency_record
WHERE key = :key
  AND ((status IS NULL AND token <> 0 AND lock_expires_at > now())
       OR (status IS NULL AND token = 0 AND expires_at > now())
       OR (status IS NOT NULL AND expires_at > now()))
