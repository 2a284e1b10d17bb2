-- Claims :key, or reports what holds it, in one statement and one row.
-- current_record is the statement's snapshot. If it shows a live record, the INSERT has no row to
-- insert (no write, no lock, no commit to flush: a replay is read-only). Otherwise the INSERT
-- claims the key; if another transaction claimed it after our snapshot, ON CONFLICT sees that
-- latest version: the CASEs keep it unchanged when it is live and the RETURNING reports it, so a
-- lost race still answers in this one round trip. A record is dead when its lock is stale (in
-- flight) or its retention is over (completed); a tombstone (token 0, see tombstone.sql) is
-- dead, and taking it over is not a recovery.
WITH current_record AS (
  SELECT request_hash, token, status, headers, body, lock_expires_at, expires_at
  FROM idempotency_record
  WHERE key = :key
),
claim AS (
  INSERT INTO idempotency_record AS r
    (key, request_hash, token, status, headers, body, created_at, locked_at, lock_expires_at,
     expires_at)
  SELECT :key, :requestHash, :token, NULL, NULL, NULL, now(), now(),
         now() + :lockMillis * interval '1 millisecond',
         now() + greatest(:lockMillis, :retentionMillis) * interval '1 millisecond'
  WHERE NOT EXISTS (
    SELECT 1 FROM current_record c
    WHERE (c.status IS NULL AND c.lock_expires_at > now())
       OR (c.status IS NOT NULL AND c.expires_at > now()))
  ON CONFLICT (key) DO UPDATE SET
    request_hash = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                          OR (r.status IS NOT NULL AND r.expires_at <= now())
                        THEN excluded.request_hash ELSE r.request_hash END,
    token = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                   OR (r.status IS NOT NULL AND r.expires_at <= now())
                 THEN excluded.token ELSE r.token END,
    status = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                    OR (r.status IS NOT NULL AND r.expires_at <= now())
                  THEN NULL ELSE r.status END,
    headers = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                     OR (r.status IS NOT NULL AND r.expires_at <= now())
                   THEN NULL ELSE r.headers END,
    body = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                  OR (r.status IS NOT NULL AND r.expires_at <= now())
                THEN NULL ELSE r.body END,
    created_at = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                        OR (r.status IS NOT NULL AND r.expires_at <= now())
                      THEN excluded.created_at ELSE r.created_at END,
    locked_at = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                       OR (r.status IS NOT NULL AND r.expires_at <= now())
                     THEN excluded.locked_at ELSE r.locked_at END,
    lock_expires_at = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                             OR (r.status IS NOT NULL AND r.expires_at <= now())
                           THEN excluded.lock_expires_at ELSE r.lock_expires_at END,
    expires_at = CASE WHEN (r.status IS NULL AND r.lock_expires_at <= now())
                        OR (r.status IS NOT NULL AND r.expires_at <= now())
                      THEN excluded.expires_at ELSE r.expires_at END
  RETURNING r.request_hash, r.token, r.status, r.headers, r.body, r.lock_expires_at
)
SELECT claim.token = :token AS acquired,
       EXISTS (SELECT 1 FROM current_record WHERE status IS NULL AND token <> 0) AS recovered,
       request_hash, status, headers, body,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
         AS lock_expires_in_micros
FROM claim
UNION ALL
SELECT false, false, request_hash, status, headers, body,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
FROM current_record
WHERE NOT EXISTS (SELECT 1 FROM claim)
