-- Transaction ids are xid8 in the database and int64 in Go: xid8 is (epoch << 32 | xid), far below
-- 2^63 for any real cluster, and going through text avoids the driver's missing xid8 codec
-- (watermill#528).

-- name: LoadStream :many
SELECT "offset", uuid, transaction_id::text::bigint AS transaction_id, stream_id, stream_type,
       stream_version, event_type, schema_version, payload, metadata, correlation_id,
       causation_id, actor, occurred_at, prev_hash, hash
FROM eventlog.events
WHERE stream_id = sqlc.arg(stream_id) AND stream_version > sqlc.arg(after_version)
ORDER BY stream_version;

-- name: StreamHead :one
SELECT stream_version, hash
FROM eventlog.events
WHERE stream_id = sqlc.arg(stream_id)
ORDER BY stream_version DESC
LIMIT 1;

-- ReadAfter is the gap-safe global read: rows are returned in (transaction_id, offset) order and
-- only from transactions older than every transaction still running, so a row that commits later
-- can never appear behind a cursor that has already moved past it.
-- name: ReadAfter :many
SELECT "offset", uuid, transaction_id::text::bigint AS transaction_id, stream_id, stream_type,
       stream_version, event_type, schema_version, payload, metadata, correlation_id,
       causation_id, actor, occurred_at, prev_hash, hash
FROM eventlog.events
WHERE (transaction_id, "offset") > (sqlc.arg(after_tx)::bigint::text::xid8, sqlc.arg(after_offset)::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (sqlc.narg(stream_id)::text IS NULL OR stream_id = sqlc.narg(stream_id))
  AND (sqlc.narg(stream_type)::text IS NULL OR stream_type = sqlc.narg(stream_type))
  AND (sqlc.narg(event_type)::text IS NULL OR event_type = sqlc.narg(event_type))
ORDER BY transaction_id, "offset"
LIMIT sqlc.arg(max_rows);

-- ReadLatest pages the log backwards (newest first) for operators, optionally from before a
-- cursor; it needs no gap safety.
-- name: ReadLatest :many
SELECT "offset", uuid, transaction_id::text::bigint AS transaction_id, stream_id, stream_type,
       stream_version, event_type, schema_version, payload, metadata, correlation_id,
       causation_id, actor, occurred_at, prev_hash, hash
FROM eventlog.events
WHERE (sqlc.narg(stream_id)::text IS NULL OR stream_id = sqlc.narg(stream_id))
  AND (sqlc.narg(stream_type)::text IS NULL OR stream_type = sqlc.narg(stream_type))
  AND (sqlc.narg(event_type)::text IS NULL OR event_type = sqlc.narg(event_type))
  AND (sqlc.narg(before_tx)::bigint IS NULL
       OR (transaction_id, "offset") < (sqlc.narg(before_tx)::bigint::text::xid8, sqlc.narg(before_position)::bigint))
ORDER BY transaction_id DESC, "offset" DESC
LIMIT sqlc.arg(max_rows);

-- name: CursorOf :one
SELECT transaction_id::text::bigint AS transaction_id
FROM eventlog.events
WHERE "offset" = sqlc.arg(position);

-- VisibleHead is where a new live follower starts: everything at or before it is committed, and
-- anything still in flight has a larger transaction id.
-- name: VisibleHead :one
SELECT transaction_id::text::bigint AS transaction_id, "offset"
FROM eventlog.events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, "offset" DESC
LIMIT 1;

-- name: ChainPage :many
SELECT "offset", stream_id, stream_type, stream_version, event_type, schema_version, payload,
       metadata, correlation_id, causation_id, actor, occurred_at, uuid, prev_hash, hash
FROM eventlog.events
WHERE (stream_id, stream_version) > (sqlc.arg(after_stream)::text, sqlc.arg(after_version)::bigint)
  AND (sqlc.narg(only_stream)::text IS NULL OR stream_id = sqlc.narg(only_stream))
ORDER BY stream_id, stream_version
LIMIT sqlc.arg(max_rows);

-- name: ConsumerOffset :one
SELECT consumer_group, offset_acked, last_processed_transaction_id::text::bigint AS transaction_id, updated_at
FROM eventlog.consumer_offsets
WHERE consumer_group = sqlc.arg(consumer_group);

-- name: LockConsumerOffset :one
SELECT consumer_group, offset_acked, last_processed_transaction_id::text::bigint AS transaction_id
FROM eventlog.consumer_offsets
WHERE consumer_group = sqlc.arg(consumer_group)
FOR UPDATE;

-- name: ListConsumerOffsets :many
SELECT consumer_group, offset_acked, last_processed_transaction_id::text::bigint AS transaction_id, updated_at
FROM eventlog.consumer_offsets
ORDER BY consumer_group;

-- name: SetConsumerOffset :exec
INSERT INTO eventlog.consumer_offsets (consumer_group, offset_acked, last_processed_transaction_id, updated_at)
VALUES (sqlc.arg(consumer_group), sqlc.arg(offset_acked), sqlc.arg(transaction_id)::bigint::text::xid8, now())
ON CONFLICT (consumer_group) DO UPDATE
SET offset_acked = excluded.offset_acked,
    last_processed_transaction_id = excluded.last_processed_transaction_id,
    updated_at = now();

-- name: CountAfter :one
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM now() - min(occurred_at)), 0)::float8 AS oldest_age_seconds
FROM eventlog.events
WHERE (transaction_id, "offset") > (sqlc.arg(after_tx)::bigint::text::xid8, sqlc.arg(after_offset)::bigint);
