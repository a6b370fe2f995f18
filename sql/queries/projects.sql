-- name: ClaimProjectName :execrows
INSERT INTO project_names (name, project_id) VALUES (sqlc.arg(name), sqlc.arg(project_id)) ON CONFLICT DO NOTHING;

-- name: InsertProject :exec
INSERT INTO projects (id, name, display_name, description, repository_url, default_branch, tech_stack, languages, frameworks,
    conventions, owner, status, version, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(display_name), sqlc.arg(description), sqlc.arg(repository_url), sqlc.arg(default_branch),
    sqlc.arg(tech_stack), sqlc.arg(languages), sqlc.arg(frameworks), sqlc.arg(conventions), sqlc.arg(owner), 'active',
    sqlc.arg(version), sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: UpdateProjectSpec :exec
UPDATE projects SET display_name = sqlc.arg(display_name), description = sqlc.arg(description), repository_url = sqlc.arg(repository_url),
    default_branch = sqlc.arg(default_branch), tech_stack = sqlc.arg(tech_stack), languages = sqlc.arg(languages),
    frameworks = sqlc.arg(frameworks), conventions = sqlc.arg(conventions),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: TouchProject :exec
UPDATE projects SET status = coalesce(sqlc.narg(status), status), version = sqlc.arg(version), updated_at = sqlc.arg(at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: InsertProjectCircle :exec
INSERT INTO project_circles (project_id, circle_id, linked_at) VALUES (sqlc.arg(project_id), sqlc.arg(circle_id), sqlc.arg(at))
ON CONFLICT (project_id, circle_id) DO NOTHING;

-- name: DeleteProjectCircle :exec
DELETE FROM project_circles WHERE project_id = sqlc.arg(project_id) AND circle_id = sqlc.arg(circle_id);

-- name: GetProject :one
SELECT id, name, display_name, description, repository_url, default_branch, tech_stack, languages, frameworks, conventions,
    owner, status, version, created_at, updated_at, last_position
FROM projects WHERE id = sqlc.arg(id);

-- Keyset pagination by name, which is unique.
-- name: ListProjects :many
SELECT id, name, display_name, description, repository_url, default_branch, tech_stack, languages, frameworks, conventions,
    owner, status, version, created_at, updated_at, last_position
FROM projects
WHERE (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(after_name)::text IS NULL OR name > sqlc.narg(after_name))
ORDER BY name
LIMIT sqlc.arg(max_rows);

-- The linked circles with their names in one query.
-- name: ProjectCirclesWithNames :many
SELECT pc.circle_id, pc.linked_at,
       coalesce(c.name, '') AS circle_name, coalesce(c.status, '') AS circle_status, coalesce(c.owner, '') AS circle_owner,
       (c.id IS NOT NULL)::boolean AS circle_exists
FROM project_circles pc
LEFT JOIN circles c ON c.id = pc.circle_id
WHERE pc.project_id = sqlc.arg(project_id)
ORDER BY pc.linked_at, pc.circle_id;

-- name: ProjectsChecksum :one
SELECT (SELECT count(*) FROM projects) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, name, display_name, description, repository_url, default_branch,
                tech_stack::text, languages::text, frameworks::text, conventions, owner, status, version::text), E'\n' ORDER BY id) FROM projects), '') ||
           coalesce((SELECT string_agg(concat_ws('|', project_id::text, circle_id::text), E'\n' ORDER BY project_id, circle_id) FROM project_circles), ''))::text AS checksum;
