-- Unqualified table names on purpose: a replay points search_path at a fresh schema and runs
-- these same statements to rebuild the read model there.

-- name: InsertAgent :exec
INSERT INTO agents (id, name, role, provider, model, personality, system_prompt, tools, version, created_at, updated_at, last_position, created_by)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(role), sqlc.arg(provider), sqlc.arg(model), sqlc.arg(personality),
        sqlc.arg(system_prompt), sqlc.arg(tools), sqlc.arg(version), sqlc.arg(created_at), sqlc.arg(created_at), sqlc.arg(last_position), sqlc.arg(created_by))
ON CONFLICT (id) DO NOTHING;

-- name: ReplaceAgent :execrows
UPDATE agents
SET name = sqlc.arg(name), role = sqlc.arg(role), provider = sqlc.arg(provider), model = sqlc.arg(model),
    personality = sqlc.arg(personality), system_prompt = sqlc.arg(system_prompt), tools = sqlc.arg(tools),
    version = sqlc.arg(version), updated_at = sqlc.arg(updated_at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: DeleteAgent :execrows
DELETE FROM agents WHERE id = sqlc.arg(id);

-- name: GetAgent :one
SELECT id, name, role, provider, model, personality, system_prompt, tools, version, created_at, updated_at, last_position, created_by
FROM agents
WHERE id = sqlc.arg(id);

-- Keyset pagination on (created_at, id): stable while agents are added or removed.
-- name: ListAgents :many
SELECT id, name, role, provider, model, personality, system_prompt, tools, version, created_at, updated_at, last_position, created_by
FROM agents
WHERE (sqlc.narg(provider)::text IS NULL OR provider = sqlc.narg(provider))
  AND (sqlc.narg(role)::text IS NULL OR role = sqlc.narg(role))
  AND (sqlc.narg(name_prefix)::text IS NULL OR lower(name) LIKE lower(sqlc.narg(name_prefix)) || '%')
  AND (sqlc.narg(owner)::text IS NULL OR created_by = sqlc.narg(owner))
  AND (created_at, id) > (sqlc.arg(after_created)::timestamptz, sqlc.arg(after_id)::uuid)
ORDER BY created_at, id
LIMIT sqlc.arg(max_rows);

-- name: CountAgents :one
SELECT count(*) FROM agents;

-- The content checksum that replay prints: identical read models give identical checksums.
-- name: AgentsChecksum :one
SELECT count(*) AS row_count,
       coalesce(md5(string_agg(
           concat_ws('|', id::text, name, role, provider, model, personality::text, system_prompt,
                     tools::text, version::text,
                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     last_position::text, created_by),
           E'\n' ORDER BY id)), md5(''))::text AS checksum
FROM agents;
