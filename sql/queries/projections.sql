-- ClaimProjectionEvent records that projection applies the event at (transaction_id,
-- position); no row is affected when it already applied that event or a later one.
-- name: ClaimProjectionEvent :execrows
INSERT INTO public.projection_applied (projection, transaction_id, position)
VALUES (sqlc.arg(projection), sqlc.arg(transaction_id), sqlc.arg(position))
ON CONFLICT (projection) DO UPDATE SET transaction_id = excluded.transaction_id, position = excluded.position
WHERE (projection_applied.transaction_id, projection_applied.position) < (excluded.transaction_id, excluded.position);

-- name: SetProjectionApplied :exec
INSERT INTO public.projection_applied (projection, transaction_id, position)
VALUES (sqlc.arg(projection), sqlc.arg(transaction_id), sqlc.arg(position))
ON CONFLICT (projection) DO UPDATE SET transaction_id = excluded.transaction_id, position = excluded.position;
