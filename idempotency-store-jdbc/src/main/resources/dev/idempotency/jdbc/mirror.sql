-- Writes a record completed in another store (redis+jdbc), unless a live record holds :key here:
-- a claim made on this store while the other was down, a completion already mirrored, or the
-- tombstone of a purge (tombstone.sql), unless the record was claimed after that purge: its
-- claim saw that very tombstone (:tombstoneSeen, its created_at), not one a later purge wrote.
INSERT INTO idempotency_record AS r
  (key, request_hash, token, status, headers, body, created_at, locked_at, lock_expires_at,
   expires_at)
VALUES (:key, :requestHash, :token, :status, :headers, :body, now(), NULL, NULL,
        now() + :retentionMillis * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET
  request_hash = excluded.request_hash, token = excluded.token, status = excluded.status,
  headers = excluded.headers, body = excluded.body, created_at = excluded.created_at,
  locked_at = NULL, lock_expires_at = NULL, expires_at = excluded.expires_at
WHERE (r.status IS NULL AND r.token <> 0 AND r.lock_expires_at <= now())
   OR (r.status IS NULL AND r.token = 0
       AND (r.expires_at <= now() OR r.created_at = :tombstoneSeen))
   OR (r.status IS NOT NULL AND r.expires_at <= now())
