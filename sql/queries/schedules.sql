-- name: InsertSchedule :exec
INSERT INTO schedules (id, owner, name, description, type, spec, action, status, next_due_at, version, created_at,
    updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(owner), sqlc.arg(name), sqlc.arg(description), sqlc.arg(type), sqlc.arg(spec),
    sqlc.arg(action), 'active', sqlc.narg(next_due_at), sqlc.arg(version), sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- A new spec may give a done schedule a due time again (a once schedule moved to a later time),
-- which makes it active, as the domain decides.
-- name: UpdateScheduleSpec :exec
UPDATE schedules SET name = sqlc.arg(name), description = sqlc.arg(description), type = sqlc.arg(type),
    spec = sqlc.arg(spec), action = sqlc.arg(action), next_due_at = sqlc.narg(next_due_at),
    -- As the aggregate: a paused schedule stays paused; otherwise the update decides.
    status = CASE WHEN status = 'paused' THEN status WHEN sqlc.arg(done)::boolean THEN 'done' ELSE 'active' END,
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: SetScheduleStatus :exec
UPDATE schedules SET status = sqlc.arg(status), version = sqlc.arg(version), updated_at = sqlc.arg(at),
    last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- name: ResumeSchedule :exec
UPDATE schedules SET status = CASE WHEN sqlc.arg(done)::boolean THEN 'done' ELSE 'active' END,
    next_due_at = sqlc.narg(next_due_at), version = sqlc.arg(version),
    updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- Only time-based fires (time_based) move the due times: a manual or event fire happens beside
-- them. The new run is pending unless its start was somehow projected first.
-- name: RecordScheduleFired :exec
UPDATE schedules SET executions = executions + 1,
    last_due_at = CASE WHEN sqlc.arg(time_based)::bool THEN sqlc.arg(due_at)::timestamptz ELSE last_due_at END,
    next_due_at = CASE WHEN sqlc.arg(time_based)::bool THEN sqlc.narg(next_due_at)::timestamptz ELSE next_due_at END,
    status = CASE WHEN sqlc.arg(done)::bool THEN 'done' ELSE status END,
    last_run_id = sqlc.arg(run_id)::uuid,
    last_run_status = coalesce((SELECT r.status FROM schedule_runs r WHERE r.id = sqlc.arg(run_id)::uuid), 'pending'),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE schedules.id = sqlc.arg(id) AND schedules.version < sqlc.arg(version);

-- name: RecordScheduleMissed :exec
UPDATE schedules SET last_due_at = sqlc.arg(last_due_at)::timestamptz, next_due_at = sqlc.narg(next_due_at),
    status = CASE WHEN sqlc.arg(done)::boolean THEN 'done' ELSE status END,
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- RecordScheduleRunStatus carries a run's new status to its schedule: the counters once it
-- ends, and last_run_status while it is the schedule's latest run. It has no version guard of
-- its own (run events do not advance the schedule stream); the caller runs it only when the run
-- row's guard let the event through.
-- name: RecordScheduleRunStatus :exec
UPDATE schedules SET
    runs_succeeded = runs_succeeded + (sqlc.arg(status)::text = 'succeeded')::int,
    runs_failed = runs_failed + (sqlc.arg(status)::text = 'failed')::int,
    last_run_status = CASE WHEN last_run_id = sqlc.arg(run_id)::uuid THEN sqlc.arg(status)::text ELSE last_run_status END,
    updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id)
  AND (sqlc.arg(status)::text IN ('succeeded', 'failed') OR last_run_id = sqlc.arg(run_id)::uuid);

-- name: GetSchedule :one
SELECT id, owner, name, description, type, spec, action, status, next_due_at, last_due_at, executions, runs_succeeded,
    runs_failed, last_run_id, last_run_status, version, created_at, updated_at, last_position
FROM schedules WHERE id = sqlc.arg(id) AND status <> 'deleted';

-- Keyset pagination on (name, id): names are not unique. The cursor is the id of the last row
-- of the previous page, which may have been deleted since and still places the page.
-- name: ListSchedules :many
SELECT id, owner, name, description, type, spec, action, status, next_due_at, last_due_at, executions, runs_succeeded,
    runs_failed, last_run_id, last_run_status, version, created_at, updated_at, last_position
FROM schedules
WHERE status <> 'deleted'
  AND (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(after_id)::uuid IS NULL
       OR (name, id) > (SELECT a.name, a.id FROM schedules a WHERE a.id = sqlc.narg(after_id)))
ORDER BY name, id
LIMIT sqlc.arg(max_rows);

-- The predicate repeats that of schedules_due_idx so the planner can use it.
-- name: DueSchedules :many
SELECT id, owner, name, description, type, spec, action, status, next_due_at, last_due_at, executions, runs_succeeded,
    runs_failed, last_run_id, last_run_status, version, created_at, updated_at, last_position
FROM schedules
WHERE status = 'active' AND next_due_at IS NOT NULL AND next_due_at <= sqlc.arg(now)::timestamptz
ORDER BY next_due_at, id
LIMIT sqlc.arg(max_rows);

-- The fire names the run before the run's own stream exists; its retry budget is the
-- schedule's at that moment, until the run's start snapshots its own. Should the start have
-- been projected first, the fire only adds what the start does not know.
-- name: InsertFiredScheduleRun :exec
INSERT INTO schedule_runs (id, schedule_id, owner, trigger, fire_key, due_at, status, max_retries, fired_at, version,
    updated_at, last_position)
SELECT sqlc.arg(id)::uuid, s.id, s.owner, sqlc.arg(trigger)::text, sqlc.arg(fire_key)::text, sqlc.arg(due_at)::timestamptz,
    'pending', coalesce((s.spec->>'max_retries')::int, 0), sqlc.arg(fired_at)::timestamptz, 0,
    sqlc.arg(fired_at)::timestamptz, sqlc.arg(last_position)::bigint
FROM schedules s WHERE s.id = sqlc.arg(schedule_id)::uuid
ON CONFLICT (id) DO UPDATE SET fire_key = EXCLUDED.fire_key, fired_at = EXCLUDED.fired_at;

-- The start normally finds the row its fire inserted; without it, the start's own fields make
-- one (fired_at is then the start's time).
-- name: UpsertStartedScheduleRun :execrows
INSERT INTO schedule_runs (id, schedule_id, owner, trigger, fire_key, due_at, status, attempts, max_retries, fired_at,
    started_at, history, version, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(schedule_id), sqlc.arg(owner), sqlc.arg(trigger), '', sqlc.arg(due_at), 'running', 1,
    sqlc.arg(max_retries), sqlc.arg(at), sqlc.arg(started_at)::timestamptz, sqlc.arg(history), sqlc.arg(version), sqlc.arg(at),
    sqlc.arg(last_position))
ON CONFLICT (id) DO UPDATE SET status = 'running', attempts = 1, max_retries = EXCLUDED.max_retries,
    started_at = EXCLUDED.started_at, history = EXCLUDED.history, version = EXCLUDED.version,
    updated_at = EXCLUDED.updated_at, last_position = EXCLUDED.last_position
WHERE schedule_runs.version < EXCLUDED.version;

-- name: GetScheduleRun :one
SELECT id, schedule_id, owner, trigger, fire_key, due_at, status, attempts, max_retries, error, result, fired_at,
    started_at, ended_at, duration_ms, next_retry_at, history, version, updated_at, last_position
FROM schedule_runs WHERE id = sqlc.arg(id);

-- UpdateScheduleRun writes the run's state after one event; the version guard makes a
-- redelivered event a no-op, and its row count tells the caller whether to touch the schedule.
-- name: UpdateScheduleRun :execrows
UPDATE schedule_runs SET status = sqlc.arg(status), attempts = sqlc.arg(attempts), error = sqlc.arg(error),
    result = sqlc.arg(result), ended_at = sqlc.narg(ended_at), duration_ms = sqlc.narg(duration_ms),
    next_retry_at = sqlc.narg(next_retry_at), history = sqlc.arg(history),
    version = sqlc.arg(version), updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
WHERE id = sqlc.arg(id) AND version < sqlc.arg(version);

-- Runs newest due time first, paged by (due_at, id) descending. The cursor is the id of the last
-- run of the previous page.
-- name: ListScheduleRuns :many
SELECT id, schedule_id, owner, trigger, fire_key, due_at, status, attempts, max_retries, error, result, fired_at,
    started_at, ended_at, duration_ms, next_retry_at, history, version, updated_at, last_position
FROM schedule_runs
WHERE (sqlc.narg(schedule_id)::uuid IS NULL OR schedule_id = sqlc.narg(schedule_id))
  AND (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(due_from)::timestamptz IS NULL OR due_at >= sqlc.narg(due_from))
  AND (sqlc.narg(due_to)::timestamptz IS NULL OR due_at <= sqlc.narg(due_to))
  AND (sqlc.narg(before_id)::uuid IS NULL
       OR (due_at, id) < (SELECT b.due_at, b.id FROM schedule_runs b WHERE b.id = sqlc.narg(before_id)))
ORDER BY due_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: SchedulesChecksum :one
SELECT ((SELECT count(*) FROM schedules) + (SELECT count(*) FROM schedule_runs))::bigint AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, owner, name, description, type, spec::text, action, status,
                coalesce(to_char(next_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                coalesce(to_char(last_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                executions::text, runs_succeeded::text, runs_failed::text, coalesce(last_run_id::text, '-'), last_run_status,
                version::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), last_position::text),
                E'\n' ORDER BY id) FROM schedules), '') ||
           coalesce((SELECT string_agg(concat_ws('|', id::text, schedule_id::text, owner, trigger, fire_key,
                to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), status, attempts::text, max_retries::text,
                error, result::text, to_char(fired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                coalesce(to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                coalesce(to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                coalesce(duration_ms::text, '-'),
                coalesce(to_char(next_retry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '-'),
                history::text, version::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                last_position::text), E'\n' ORDER BY id) FROM schedule_runs), ''))::text AS checksum;

-- The claim that makes a due time fire once: the fire command inserts it in the transaction
-- that appends schedule.fired, and a claim that finds the row taken (0 rows) does not fire.
-- name: ClaimScheduleFire :execrows
INSERT INTO schedule_fires (schedule_id, fire_key, run_id)
VALUES (sqlc.arg(schedule_id), sqlc.arg(fire_key), sqlc.arg(run_id))
ON CONFLICT (schedule_id, fire_key) DO NOTHING;

-- name: UpsertScheduleEventSubscription :exec
INSERT INTO schedule_event_subscriptions (schedule_id, owner, event_type, active, since_position)
VALUES (sqlc.arg(schedule_id), sqlc.arg(owner), sqlc.arg(event_type), sqlc.arg(active), sqlc.arg(since_position))
ON CONFLICT (schedule_id) DO UPDATE SET event_type = EXCLUDED.event_type, active = EXCLUDED.active,
    since_position = EXCLUDED.since_position;

-- name: SetScheduleEventSubscriptionActive :exec
UPDATE schedule_event_subscriptions SET active = sqlc.arg(active) WHERE schedule_id = sqlc.arg(schedule_id);

-- name: DeleteScheduleEventSubscription :exec
DELETE FROM schedule_event_subscriptions WHERE schedule_id = sqlc.arg(schedule_id);

-- The event schedules an event at position fires: those subscribed to its type before it was
-- appended.
-- name: MatchingScheduleEventSubscriptions :many
SELECT schedule_id FROM schedule_event_subscriptions
WHERE event_type = sqlc.arg(event_type) AND owner = sqlc.arg(actor) AND active AND since_position < sqlc.arg(position)
ORDER BY schedule_id;

-- name: ScheduleEventSubscriptionActive :one
SELECT active FROM schedule_event_subscriptions WHERE schedule_id = sqlc.arg(schedule_id);

-- A resumed subscription only fires on events after the resumption.
-- name: ResumeScheduleEventSubscription :exec
UPDATE schedule_event_subscriptions SET active = true, since_position = sqlc.arg(since_position)
WHERE schedule_id = sqlc.arg(schedule_id);

-- A session lock per schedule, held while one instance fires its due times; two keys so that
-- no other lock of the application can collide with it.
-- name: TryScheduleLock :one
SELECT pg_try_advisory_lock(sqlc.arg(class)::int, hashtext(sqlc.arg(schedule_id)::text));

-- name: ReleaseScheduleLock :exec
SELECT pg_advisory_unlock(sqlc.arg(class)::int, hashtext(sqlc.arg(schedule_id)::text));
