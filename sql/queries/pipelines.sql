-- name: InsertPipeline :exec
INSERT INTO pipelines (id, owner, name, description, spec, spec_version, node_count, edge_count, deleted, version,
    created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(owner), sqlc.arg(name), sqlc.arg(description), sqlc.arg(spec), sqlc.arg(spec_version),
    sqlc.arg(node_count), sqlc.arg(edge_count), false, sqlc.arg(version), sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: UpdatePipelineSpec :exec
UPDATE pipelines SET name = sqlc.arg(name), description = sqlc.arg(description), spec = sqlc.arg(spec),
    spec_version = sqlc.arg(spec_version), node_count = sqlc.arg(node_count), edge_count = sqlc.arg(edge_count),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: DeletePipeline :exec
UPDATE pipelines SET deleted = true, version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: GetPipeline :one
SELECT id, owner, name, description, spec, spec_version, node_count, edge_count, deleted, version, created_at, updated_at,
    last_position
FROM pipelines WHERE id = sqlc.arg(id) AND NOT deleted;

-- Keyset pagination on (name, id): names are not unique. The cursor is the id of the last row
-- of the previous page, which may have been deleted since and still places the page.
-- name: ListPipelines :many
SELECT id, owner, name, description, spec, spec_version, node_count, edge_count, deleted, version, created_at, updated_at,
    last_position
FROM pipelines
WHERE NOT deleted
  AND (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(after_id)::uuid IS NULL
       OR (name, id) > (SELECT a.name, a.id FROM pipelines a WHERE a.id = sqlc.narg(after_id)))
ORDER BY name, id
LIMIT sqlc.arg(max_rows);

-- name: InsertPipelineRun :exec
INSERT INTO pipeline_runs (id, pipeline_id, pipeline_version, owner, started_by, status, input, timeout_sec, started_at,
    version, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(pipeline_id), sqlc.arg(pipeline_version), sqlc.arg(owner), sqlc.arg(started_by), 'running',
    sqlc.arg(input), sqlc.arg(timeout_sec), sqlc.arg(started_at), sqlc.arg(version), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- One row per node of the run's spec snapshot, in one statement; position is the index in the spec.
-- name: InsertPipelineNodeRuns :exec
INSERT INTO pipeline_node_runs (run_id, node_id, node_type, position, status)
SELECT sqlc.arg(run_id), n.node_id, (sqlc.arg(node_types)::text[])[n.ord], (n.ord - 1)::int, 'pending'
FROM unnest(sqlc.arg(node_ids)::text[]) WITH ORDINALITY AS n(node_id, ord)
ON CONFLICT (run_id, node_id) DO NOTHING;

-- name: GetPipelineRun :one
SELECT id, pipeline_id, pipeline_version, owner, started_by, status, input, outputs, error, failed_node, cancel_reason,
    cancel_forced, timeout_sec, started_at, ended_at, duration_ms, version, updated_at, last_position
FROM pipeline_runs WHERE id = sqlc.arg(id);

-- UpdatePipelineRun writes the run's state after one event; the version guard makes a
-- redelivered event a no-op.
-- name: UpdatePipelineRun :exec
UPDATE pipeline_runs SET status = sqlc.arg(status), outputs = sqlc.arg(outputs), error = sqlc.arg(error),
    failed_node = sqlc.arg(failed_node), cancel_reason = sqlc.arg(cancel_reason), cancel_forced = sqlc.arg(cancel_forced),
    ended_at = sqlc.narg(ended_at), duration_ms = sqlc.narg(duration_ms),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- Runs newest first, paged by (started_at, id) descending. The cursor is the id of the last run
-- of the previous page.
-- name: ListPipelineRuns :many
SELECT id, pipeline_id, pipeline_version, owner, started_by, status, input, outputs, error, failed_node, cancel_reason,
    cancel_forced, timeout_sec, started_at, ended_at, duration_ms, version, updated_at, last_position
FROM pipeline_runs
WHERE (sqlc.narg(pipeline_id)::uuid IS NULL OR pipeline_id = sqlc.narg(pipeline_id))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(before_id)::uuid IS NULL
       OR (started_at, id) < (SELECT b.started_at, b.id FROM pipeline_runs b WHERE b.id = sqlc.narg(before_id)))
ORDER BY started_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: GetPipelineNodeRun :one
SELECT run_id, node_id, node_type, position, status, attempts, input, output, error, skip_reason, started_at, ended_at,
    duration_ms, history
FROM pipeline_node_runs WHERE run_id = sqlc.arg(run_id) AND node_id = sqlc.arg(node_id);

-- name: UpdatePipelineNodeRun :exec
UPDATE pipeline_node_runs SET status = sqlc.arg(status), attempts = sqlc.arg(attempts), input = sqlc.arg(input),
    output = sqlc.arg(output), error = sqlc.arg(error), skip_reason = sqlc.arg(skip_reason), started_at = sqlc.narg(started_at),
    ended_at = sqlc.narg(ended_at), duration_ms = sqlc.narg(duration_ms), history = sqlc.arg(history)
WHERE run_id = sqlc.arg(run_id) AND node_id = sqlc.arg(node_id);

-- name: ListPipelineNodeRuns :many
SELECT run_id, node_id, node_type, position, status, attempts, input, output, error, skip_reason, started_at, ended_at,
    duration_ms, history
FROM pipeline_node_runs WHERE run_id = sqlc.arg(run_id)
ORDER BY position, node_id;

-- name: PipelinesChecksum :one
SELECT ((SELECT count(*) FROM pipelines) + (SELECT count(*) FROM pipeline_runs) + (SELECT count(*) FROM pipeline_node_runs))::bigint AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, owner, name, description, spec::text, spec_version::text,
                node_count::text, edge_count::text, deleted::text, version::text,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), last_position::text), E'\n' ORDER BY id) FROM pipelines), '') ||
           coalesce((SELECT string_agg(concat_ws('|', id::text, pipeline_id::text, pipeline_version::text, owner, started_by, status,
                input::text, outputs::text, error, failed_node, cancel_reason, cancel_forced::text, timeout_sec::text,
                to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                coalesce(to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'), coalesce(duration_ms::text, '-'),
                version::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), last_position::text),
                E'\n' ORDER BY id) FROM pipeline_runs), '') ||
           coalesce((SELECT string_agg(concat_ws('|', run_id::text, node_id, node_type, position::text, status, attempts::text,
                input::text, output::text, error, skip_reason,
                coalesce(to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                coalesce(to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'), coalesce(duration_ms::text, '-'),
                history::text), E'\n' ORDER BY run_id, node_id) FROM pipeline_node_runs), ''))::text AS checksum;

-- Whether a run recorded, after the version an attempt started from, an event that stops it
-- (a cancellation or the run's end); attempts in progress poll it.
-- name: PipelineRunStopRecorded :one
SELECT EXISTS (SELECT 1 FROM eventlog.events WHERE stream_id = sqlc.arg(stream_id) AND stream_version > sqlc.arg(after_version)
    AND event_type = ANY(sqlc.arg(event_types)::text[]))::boolean;
