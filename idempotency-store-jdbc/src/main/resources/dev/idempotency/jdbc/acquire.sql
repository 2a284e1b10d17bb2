-- Claims :key, or reports the live record that holds it, in one statement.
-- current_record is the statement's snapshot. If it shows a live record, the INSERT has no row to
-- insert (no write, no lock, no commit to flush: a replay is read-only) and the snapshot is the
-- answer. Otherwise the INSERT claims the key, taking over a dead record (a stale lock, a
-- retention that is over, a tombstone: see tombstone.sql) with ON CONFLICT … WHERE <dead>.
-- If another transaction claimed the key after our snapshot, ON CONFLICT waits for it and finds
-- its row live: nothing is returned, and the caller runs the statement again (a new snapshot,
-- which sees the winner). Only a race on one key costs that second round trip.
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
    request_hash = excluded.request_hash, token = excluded.token, status = NULL,
    headers = NULL, body = NULL, created_at = excluded.created_at,
    locked_at = excluded.locked_at, lock_expires_at = excluded.lock_expires_at,
    expires_at = excluded.expires_at
  WHERE (r.status IS NULL AND r.lock_expires_at <= now())
     OR (r.status IS NOT NULL AND r.expires_at <= now())
  RETURNING r.token
)
SELECT true AS acquired,
       EXISTS (SELECT 1 FROM current_record WHERE status IS NULL AND token <> 0) AS recovered,
       NULL AS request_hash, NULL AS status, NULL AS headers, NULL AS body,
       NULL AS lock_expires_in_micros
FROM claim
UNION ALL
SELECT false, false, request_hash, status, headers, body,
       CAST(floor(extract(epoch FROM lock_expires_at - now()) * 1000000) AS bigint)
FROM current_record
WHERE NOT EXISTS (SELECT 1 FROM claim)
  AND ((status IS NULL AND lock_expires_at > now()) OR (status IS NOT NULL AND expires_at > now()))
