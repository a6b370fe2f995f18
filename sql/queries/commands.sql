-- name: ClaimIdempotencyKey :execrows
INSERT INTO idempotency_keys (key, fingerprint, stream_id, stream_version, position, transaction_id)
VALUES (sqlc.arg(key), sqlc.arg(fingerprint), sqlc.arg(stream_id), sqlc.arg(stream_version), sqlc.arg(position), sqlc.arg(transaction_id))
ON CONFLICT (key) DO NOTHING;

-- name: GetIdempotencyKey :one
SELECT key, fingerprint, stream_id, stream_version, position, transaction_id, response_status, response_body
FROM idempotency_keys
WHERE key = sqlc.arg(key);

-- name: StoreIdempotentResponse :exec
UPDATE idempotency_keys
SET response_status = sqlc.arg(response_status), response_body = sqlc.arg(response_body)
WHERE key = sqlc.arg(key) AND response_status IS NULL;

-- name: PurgeIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE created_at < sqlc.arg(before);
