-- What is held for :key, for operators: never the body itself. Durations in microseconds.
SELECT key, request_hash, status, octet_length(body) AS body_size,
       CAST(floor(extract(epoch FROM now() - created_at) * 1000000) AS bigint) AS age_micros,
       CAST(floor(extract(epoch FROM now() - locked_at) * 1000000) AS bigint) AS lock_age_micros,
       CAST(floor(extract(epoch FROM coalesce(lock_expires_at, expires_at) - now()) * 1000000)
         AS bigint) AS expires_in_micros
FROM idempotency_record
WHERE key = :key AND token <> 0 AND (status IS NULL OR expires_at > now())
