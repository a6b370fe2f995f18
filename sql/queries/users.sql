-- name: InsertUser :exec
INSERT INTO users (id, email, email_lower, name, role, password_hash, active, version, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(email), sqlc.arg(email_lower), sqlc.arg(name), sqlc.arg(role), sqlc.arg(password_hash), true,
        sqlc.arg(version), sqlc.arg(created_at), sqlc.arg(created_at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: SetUserPassword :exec
UPDATE users SET password_hash = sqlc.arg(password_hash), version = sqlc.arg(version), updated_at = sqlc.arg(updated_at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: SetUserActive :exec
UPDATE users SET active = sqlc.arg(active), version = sqlc.arg(version), updated_at = sqlc.arg(updated_at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: SetUserRole :exec
UPDATE users SET role = sqlc.arg(role), version = sqlc.arg(version), updated_at = sqlc.arg(updated_at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: BumpUserVersion :exec
UPDATE users SET version = sqlc.arg(version), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: GetUser :one
SELECT id, email, email_lower, name, role, password_hash, active, version, created_at, updated_at, last_position
FROM users WHERE id = sqlc.arg(id);

-- name: GetUserByEmail :one
SELECT id, email, email_lower, name, role, password_hash, active, version, created_at, updated_at, last_position
FROM users WHERE email_lower = sqlc.arg(email_lower);

-- name: ListUsers :many
SELECT id, email, email_lower, name, role, password_hash, active, version, created_at, updated_at, last_position
FROM users
WHERE (created_at, id) > (sqlc.arg(after_created)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT sqlc.arg(max_rows);

-- name: UsersChecksum :one
SELECT count(*) AS row_count,
       coalesce(md5(string_agg(
           concat_ws('|', id::text, email, name, role, password_hash, active::text, version::text,
                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), last_position::text),
           E'\n' ORDER BY id)), md5(''))::text AS checksum
FROM users;

-- name: InsertAuditEntry :exec
INSERT INTO audit_log (position, occurred_at, event_type, stream_id, user_id, actor, ip, user_agent, request_id, details)
VALUES (sqlc.arg(position), sqlc.arg(occurred_at), sqlc.arg(event_type), sqlc.arg(stream_id), sqlc.arg(user_id),
        sqlc.arg(actor), sqlc.arg(ip), sqlc.arg(user_agent), sqlc.arg(request_id), sqlc.arg(details))
ON CONFLICT (position) DO NOTHING;

-- name: ListAudit :many
SELECT position, occurred_at, event_type, stream_id, user_id, actor, ip, user_agent, request_id, details
FROM audit_log
WHERE (sqlc.narg(user_id)::text IS NULL OR user_id = sqlc.narg(user_id) OR actor = sqlc.narg(user_id))
  AND (sqlc.narg(event_type)::text IS NULL OR event_type = sqlc.narg(event_type))
  AND occurred_at >= sqlc.arg(since)::timestamptz
  AND occurred_at < sqlc.arg(until)::timestamptz
  AND (occurred_at, position) < (sqlc.arg(before_time)::timestamptz, sqlc.arg(before_position)::bigint)
ORDER BY occurred_at DESC, position DESC
LIMIT sqlc.arg(max_rows);

-- name: AuditChecksum :one
SELECT count(*) AS row_count,
       coalesce(md5(string_agg(concat_ws('|', position::text, event_type, stream_id, user_id, actor, ip, user_agent,
           request_id, details::text), E'\n' ORDER BY position)), md5(''))::text AS checksum
FROM audit_log;

-- name: GetAgentOwner :one
SELECT created_by FROM agents WHERE id = sqlc.arg(id);
