-- Purges :key for redis+jdbc, leaving a tombstone (token 0, already stale) until :ttlMillis
-- from now, so a completion still on its way from another JVM's mirror queue cannot bring the
-- purged record back. Acquire takes a tombstone over like any dead record; inspect ignores it.
WITH previous AS (
  SELECT token, status, expires_at FROM idempotency_record WHERE key = :key
),
tombstone AS (
  INSERT INTO idempotency_record AS r
    (key, request_hash, token, created_at, locked_at, lock_expires_at, expires_at)
  VALUES (:key, '', 0, now(), now(), now(), now() + :ttlMillis * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET
    request_hash = '', token = 0, status = NULL, headers = NULL, body = NULL,
    created_at = now(), locked_at = now(), lock_expires_at = now(),
    expires_at = excluded.expires_at
)
SELECT EXISTS (
  SELECT 1 FROM previous WHERE token <> 0 AND (status IS NULL OR expires_at > now())) AS purged
