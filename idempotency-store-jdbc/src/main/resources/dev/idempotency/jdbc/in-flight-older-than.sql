-- In-flight records whose lock is at least :olderThanMillis old, oldest first, for operators.
SELECT key, request_hash, status, octet_length(body) AS body_size,
       CAST(floor(extract(epoch FROM now() - created_at) * 1000000) AS bigint) AS age_micros,
       CAST(floor(extract(epoch FROM now() - locked_at) * 1000000) AS bigint) AS lock_age_micros,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
         AS expires_in_micros
FROM idempotency_record
WHERE status IS NULL AND token <> 0 AND locked_at <= now() - :olderThanMillis * interval '1 millisecond'
ORDER BY locked_at
LIMIT :limit
