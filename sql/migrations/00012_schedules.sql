-- +goose Up
-- Read models of the "schedules" projection: schedules and their runs, so that lists, the
-- scheduler's tick and a run's attempts need no fold of the streams.
--
-- As in 00011_pipelines.sql, JSON that does not exist yet is the JSON value null rather than SQL
-- NULL (sqlc would type a nullable JSONB column with a module the project does not take).
CREATE TABLE schedules (
    id              UUID        PRIMARY KEY,
    owner           TEXT        NOT NULL,
    name            TEXT        NOT NULL,
    description     TEXT        NOT NULL,
    type            TEXT        NOT NULL,
    -- The whole current domain.ScheduleSpec; the columns beside it spare lists from reading it.
    spec            JSONB       NOT NULL,
    action          TEXT        NOT NULL,
    -- Kept, not removed, when deleted: its runs in flight still name it.
    status          TEXT        NOT NULL, -- active | paused | done | deleted
    -- NULL when nothing is due any more, and always for event schedules.
    next_due_at     TIMESTAMPTZ,
    last_due_at     TIMESTAMPTZ,
    executions      INT         NOT NULL DEFAULT 0,
    runs_succeeded  INT         NOT NULL DEFAULT 0,
    runs_failed     INT         NOT NULL DEFAULT 0,
    last_run_id     UUID,
    -- The status of the run last_run_id names, so a list shows how the latest run is doing.
    last_run_status TEXT        NOT NULL DEFAULT '',
    -- The schedule stream's version; run events change the counters without it.
    version         BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_position   BIGINT      NOT NULL
);
CREATE INDEX schedules_owner_idx ON schedules (owner, name, id);
-- The scheduler's tick asks this every few seconds; only active schedules with a due time count.
CREATE INDEX schedules_due_idx ON schedules (next_due_at) WHERE status = 'active' AND next_due_at IS NOT NULL;

CREATE TABLE schedule_runs (
    id            UUID        PRIMARY KEY,
    schedule_id   UUID        NOT NULL,
    owner         TEXT        NOT NULL,
    trigger       TEXT        NOT NULL, -- scheduler | recovery | manual | event
    fire_key      TEXT        NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    status        TEXT        NOT NULL, -- pending | running | retrying | succeeded | failed
    attempts      INT         NOT NULL DEFAULT 0,
    max_retries   INT         NOT NULL,
    error         TEXT        NOT NULL DEFAULT '', -- the latest failure; cleared on success
    result        JSONB       NOT NULL DEFAULT 'null', -- once succeeded
    fired_at      TIMESTAMPTZ NOT NULL,
    started_at    TIMESTAMPTZ,
    ended_at      TIMESTAMPTZ,
    duration_ms   BIGINT,
    next_retry_at TIMESTAMPTZ, -- while retrying
    -- One object per attempt; times are RFC 3339 strings in UTC as the events carry them, so a
    -- replay writes the same bytes.
    history       JSONB       NOT NULL DEFAULT '[]',
    -- The run stream's version: 0 while only the schedule's fire is known.
    version       BIGINT      NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
-- A schedule's runs newest due first, paged by (due_at, id).
CREATE INDEX schedule_runs_schedule_idx ON schedule_runs (schedule_id, due_at DESC, id DESC);

-- Not a read model: the fire command inserts a row in the transaction that appends
-- schedule.fired, so that however many instances race for a due time, one fires it. A replay
-- must never rebuild it, since the log alone cannot tell a claim that lost from none.
CREATE TABLE schedule_fires (
    schedule_id UUID        NOT NULL,
    fire_key    TEXT        NOT NULL,
    run_id      UUID        NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, fire_key)
);

-- Not a read model either: the state of the process manager that fires event schedules.
-- since_position keeps an event appended before the subscription from firing it.
CREATE TABLE schedule_event_subscriptions (
    schedule_id    UUID    PRIMARY KEY,
    -- A schedule fires only on events its owner's own actions appended: nobody's schedule
    -- reacts to another user's work.
    owner          TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    active         BOOLEAN NOT NULL,
    since_position BIGINT  NOT NULL
);
CREATE INDEX schedule_event_subscriptions_type_idx ON schedule_event_subscriptions (event_type) WHERE active;

-- +goose Down
DROP TABLE schedule_event_subscriptions;
DROP TABLE schedule_fires;
DROP TABLE schedule_runs;
DROP TABLE schedules;
