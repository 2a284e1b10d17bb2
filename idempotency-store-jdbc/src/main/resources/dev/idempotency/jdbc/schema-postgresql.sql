-- The idempotency store's one table (idempotency-store-jdbc, PostgreSQL 12+).
-- Applied on start with idempotency.jdbc.create-schema=true; or run it yourself: psql -1 -f
-- Serialises concurrent schema creation by several JVMs; a no-op outside a transaction.
SELECT pg_advisory_xact_lock(7290431962731846);

CREATE TABLE IF NOT EXISTS idempotency_record (
  key             text        PRIMARY KEY,   -- prefix + hex(sha256(scope, key)): no caller text
  request_hash    text        NOT NULL,
  token           bigint      NOT NULL,      -- fencing token of the owner
  status          smallint,                  -- null while in flight
  headers         text,                      -- "name: value" lines
  body            bytea,
  created_at      timestamptz NOT NULL,
  locked_at       timestamptz,               -- in flight: taken or last renewed
  lock_expires_at timestamptz,               -- in flight: stale after this
  expires_at      timestamptz NOT NULL       -- the row may be purged after this
);

CREATE INDEX IF NOT EXISTS idempotency_record_expires_at ON idempotency_record (expires_at);
