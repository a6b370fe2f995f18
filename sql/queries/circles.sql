-- name: InsertCircle :exec
INSERT INTO circles (id, name, description, owner, status, version, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(description), sqlc.arg(owner), 'created', sqlc.arg(version), sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: TouchCircle :exec
UPDATE circles SET status = coalesce(sqlc.narg(status), status), version = sqlc.arg(version), updated_at = sqlc.arg(at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: UpsertCircleMember :exec
INSERT INTO circle_members (circle_id, agent_id, role, competencies, joined_at)
VALUES (sqlc.arg(circle_id), sqlc.arg(agent_id), sqlc.arg(role), sqlc.arg(competencies), sqlc.arg(at))
ON CONFLICT (circle_id, agent_id) DO UPDATE SET role = excluded.role, competencies = excluded.competencies;

-- name: DeleteCircleMember :exec
DELETE FROM circle_members WHERE circle_id = sqlc.arg(circle_id) AND agent_id = sqlc.arg(agent_id);

-- name: GetCircleByName :one
SELECT id, name, description, owner, status, version, created_at, updated_at, last_position FROM circles WHERE name = sqlc.arg(name);

-- name: ListCircles :many
SELECT id, name, description, owner, status, version, created_at, updated_at, last_position
FROM circles
WHERE (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
ORDER BY name
LIMIT sqlc.arg(max_rows);

-- The members with their agents' details in one query (the original needed 2N+1).
-- name: CircleMembersWithAgents :many
SELECT m.agent_id, m.role, m.competencies, m.joined_at,
       coalesce(a.name, '') AS agent_name, coalesce(a.provider, '') AS provider, coalesce(a.model, '') AS model,
       coalesce(a.role, '') AS agent_role, (a.id IS NOT NULL)::boolean AS agent_exists
FROM circle_members m
LEFT JOIN agents a ON a.id = m.agent_id
WHERE m.circle_id = sqlc.arg(circle_id)
ORDER BY m.joined_at, m.agent_id;

-- name: CirclesChecksum :one
SELECT (SELECT count(*) FROM circles) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, name, description, owner, status, version::text), E'\n' ORDER BY id) FROM circles), '') ||
           coalesce((SELECT string_agg(concat_ws('|', circle_id::text, agent_id::text, role, competencies::text), E'\n' ORDER BY circle_id, agent_id) FROM circle_members), ''))::text AS checksum;
