-- The live record for :key, if any (read-only): the redis+jdbc read-through after a Redis miss.
SELECT request_hash, status, headers, body,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
         AS lock_expires_in_micros,
       CAST(floor(extract(epoch FROM expires_at - now()) * 1000000) AS bigint) AS expires_in_micros
FROM idempotency_record
WHERE key = :key
  AND ((status IS NULL AND lock_expires_at > now()) OR (status IS NOT NULL AND expires_at > now()))
