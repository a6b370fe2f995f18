-- name: InsertCircleTask :exec
INSERT INTO circle_tasks (id, circle_id, project_id, title, description, required_competencies, priority, requires_review,
    status, iteration, result, owner, version, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(circle_id), sqlc.narg(project_id), sqlc.arg(title), sqlc.arg(description), sqlc.arg(required_competencies),
    sqlc.arg(priority), sqlc.arg(requires_review), 'pending', 1, '', sqlc.arg(owner), sqlc.arg(version), sqlc.arg(at), sqlc.arg(at),
    sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- UpdateCircleTask writes the task's state after one event; the version guard makes a
-- redelivered event a no-op.
-- name: UpdateCircleTask :exec
UPDATE circle_tasks SET status = sqlc.arg(status), offered_to = sqlc.narg(offered_to), assignee_id = sqlc.narg(assignee_id),
    reviewer_id = sqlc.narg(reviewer_id), iteration = sqlc.arg(iteration), result = sqlc.arg(result),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: CountAuthorReview :exec
INSERT INTO circle_agent_reviews (agent_id, approved, changes_requested, rejected)
VALUES (sqlc.arg(agent_id), sqlc.arg(approved), sqlc.arg(changes_requested), sqlc.arg(rejected))
ON CONFLICT (agent_id) DO UPDATE SET approved = circle_agent_reviews.approved + excluded.approved,
    changes_requested = circle_agent_reviews.changes_requested + excluded.changes_requested,
    rejected = circle_agent_reviews.rejected + excluded.rejected;

-- name: InsertCircleEscalation :exec
INSERT INTO circle_escalations (position, circle_id, task_id, severity, reason, detail, agent_id, raised_at)
VALUES (sqlc.arg(position), sqlc.arg(circle_id), sqlc.arg(task_id), sqlc.arg(severity), sqlc.arg(reason), sqlc.arg(detail),
    sqlc.arg(agent_id), sqlc.arg(at))
ON CONFLICT (position) DO NOTHING;

-- name: InsertCircleConflict :exec
INSERT INTO circle_conflicts (position, circle_id, task_id, kind, agent_id, path, holder_task_id, holder_agent_id, detected_at)
VALUES (sqlc.arg(position), sqlc.arg(circle_id), sqlc.arg(task_id), sqlc.arg(kind), sqlc.arg(agent_id), sqlc.arg(path),
    sqlc.arg(holder_task_id), sqlc.arg(holder_agent_id), sqlc.arg(at))
ON CONFLICT (position) DO NOTHING;

-- name: GetCircleTask :one
SELECT * FROM circle_tasks WHERE id = sqlc.arg(id);

-- name: ListCircleTasks :many
SELECT * FROM circle_tasks
WHERE (sqlc.narg(circle_id)::uuid IS NULL OR circle_id = sqlc.narg(circle_id))
  AND (sqlc.narg(project_id)::uuid IS NULL OR project_id = sqlc.narg(project_id))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(agent_id)::uuid IS NULL OR assignee_id = sqlc.narg(agent_id) OR offered_to = sqlc.narg(agent_id))
ORDER BY priority, created_at, id
LIMIT sqlc.arg(max_rows);

-- What routing needs of each agent: its open work in every circle, its record as an author
-- and the reviews waiting for it.
-- name: AgentTaskStats :many
SELECT a.agent_id::uuid AS agent_id,
       (SELECT count(*) FROM circle_tasks t
         WHERE (t.status = 'offered' AND t.offered_to = a.agent_id) OR (t.status = 'in_progress' AND t.assignee_id = a.agent_id))::int AS workload,
       coalesce(r.approved, 0)::int AS approved,
       (coalesce(r.approved, 0) + coalesce(r.changes_requested, 0) + coalesce(r.rejected, 0))::int AS reviewed,
       (SELECT count(*) FROM circle_tasks t WHERE t.status = 'in_review' AND t.reviewer_id = a.agent_id::text)::int AS pending_reviews
FROM unnest(sqlc.arg(agent_ids)::uuid[]) AS a(agent_id)
LEFT JOIN circle_agent_reviews r ON r.agent_id = a.agent_id;

-- name: ListCircleEscalations :many
SELECT * FROM circle_escalations WHERE circle_id = sqlc.arg(circle_id) ORDER BY position DESC LIMIT sqlc.arg(max_rows);

-- name: ListCircleConflicts :many
SELECT * FROM circle_conflicts WHERE circle_id = sqlc.arg(circle_id) ORDER BY position DESC LIMIT sqlc.arg(max_rows);

-- name: ClaimCircleFile :execrows
INSERT INTO circle_file_claims (circle_id, path, task_id, agent_id) VALUES (sqlc.arg(circle_id), sqlc.arg(path), sqlc.arg(task_id), sqlc.arg(agent_id))
ON CONFLICT (circle_id, path) DO NOTHING;

-- name: CircleFileHolder :one
SELECT task_id, agent_id FROM circle_file_claims WHERE circle_id = sqlc.arg(circle_id) AND path = sqlc.arg(path);

-- name: ReleaseCircleFile :exec
DELETE FROM circle_file_claims WHERE task_id = sqlc.arg(task_id) AND path = sqlc.arg(path);

-- name: CircleTasksChecksum :one
SELECT (SELECT count(*) FROM circle_tasks) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, circle_id::text, project_id::text, title, status, offered_to::text,
                assignee_id::text, reviewer_id, iteration::text, result, version::text), E'\n' ORDER BY id) FROM circle_tasks), '') ||
           coalesce((SELECT string_agg(concat_ws('|', agent_id::text, approved::text, changes_requested::text, rejected::text), E'\n' ORDER BY agent_id) FROM circle_agent_reviews), '') ||
           coalesce((SELECT string_agg(concat_ws('|', position::text, task_id::text, reason), E'\n' ORDER BY position) FROM circle_escalations), '') ||
           coalesce((SELECT string_agg(concat_ws('|', position::text, task_id::text, path), E'\n' ORDER BY position) FROM circle_conflicts), ''))::text AS checksum;

-- name: InsertConversation :exec
INSERT INTO conversations (id, circle_id, owner, topic, strategy, participants, status, turns_taken, max_turns, posts,
    end_reason, end_detail, version, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(circle_id), sqlc.arg(owner), sqlc.arg(topic), sqlc.arg(strategy), sqlc.arg(participants), 'running', 0,
    sqlc.arg(max_turns), 0, '', '', sqlc.arg(version), sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: UpdateConversation :exec
UPDATE conversations SET turns_taken = turns_taken + sqlc.arg(turns)::int, posts = posts + sqlc.arg(posts)::int,
    status = coalesce(sqlc.narg(status), status), end_reason = coalesce(sqlc.narg(end_reason), end_reason),
    end_detail = coalesce(sqlc.narg(end_detail), end_detail), version = sqlc.arg(version), updated_at = sqlc.arg(at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: ListConversations :many
SELECT * FROM conversations
WHERE (sqlc.narg(circle_id)::uuid IS NULL OR circle_id = sqlc.narg(circle_id))
  AND (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
ORDER BY created_at DESC, id
LIMIT sqlc.arg(max_rows);

-- name: ConversationsChecksum :one
SELECT (SELECT count(*) FROM conversations) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, circle_id::text, topic, status, turns_taken::text, posts::text,
                end_reason, end_detail, version::text), E'\n' ORDER BY id) FROM conversations), ''))::text AS checksum;
