-- +goose Up
-- Read models of the "pipelines" projection: pipeline definitions, their runs and the nodes of
-- each run, so that lists and a run's progress need no fold of the streams.
--
-- JSON that does not exist yet (a run's outputs, a node's input and output) is the JSON value
-- null rather than SQL NULL: sqlc types a nullable JSONB column as pqtype.NullRawMessage, a
-- dependency the project does not take, and the status already tells "not yet" from "null".
CREATE TABLE pipelines (
    id            UUID        PRIMARY KEY,
    owner         TEXT        NOT NULL,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL,
    -- The whole current domain.PipelineSpec; the counts spare lists from reading it.
    spec          JSONB       NOT NULL,
    spec_version  INT         NOT NULL,
    node_count    INT         NOT NULL,
    edge_count    INT         NOT NULL,
    -- Kept, not removed: a run in flight still names its pipeline.
    deleted       BOOLEAN     NOT NULL DEFAULT false,
    version       BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
CREATE INDEX pipelines_owner_idx ON pipelines (owner, name);

CREATE TABLE pipeline_runs (
    id               UUID        PRIMARY KEY,
    pipeline_id      UUID        NOT NULL,
    pipeline_version INT         NOT NULL,
    owner            TEXT        NOT NULL,
    started_by       TEXT        NOT NULL,
    status           TEXT        NOT NULL, -- running | cancelling | completed | failed | cancelled | timed_out
    input            JSONB       NOT NULL,
    outputs          JSONB       NOT NULL DEFAULT 'null', -- until the run completes
    error            TEXT        NOT NULL DEFAULT '',
    failed_node      TEXT        NOT NULL DEFAULT '',
    cancel_reason    TEXT        NOT NULL DEFAULT '',
    cancel_forced    BOOLEAN     NOT NULL DEFAULT false,
    timeout_sec      INT         NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    ended_at         TIMESTAMPTZ,
    duration_ms      BIGINT,
    version          BIGINT      NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    last_position    BIGINT      NOT NULL
);
-- A pipeline's runs newest first, paged by (started_at, id).
CREATE INDEX pipeline_runs_pipeline_idx ON pipeline_runs (pipeline_id, started_at DESC, id DESC);
CREATE INDEX pipeline_runs_started_by_idx ON pipeline_runs (started_by);

CREATE TABLE pipeline_node_runs (
    run_id      UUID        NOT NULL,
    node_id     TEXT        NOT NULL,
    node_type   TEXT        NOT NULL,
    -- The node's index in the run's spec snapshot: a run's nodes read in the order they were drawn.
    position    INT         NOT NULL,
    status      TEXT        NOT NULL, -- pending | running | retrying | completed | failed | skipped | interrupted
    attempts    INT         NOT NULL DEFAULT 0,
    input       JSONB       NOT NULL DEFAULT 'null', -- of the latest attempt
    output      JSONB       NOT NULL DEFAULT 'null',
    error       TEXT        NOT NULL DEFAULT '', -- the latest failure; cleared on completion
    skip_reason TEXT        NOT NULL DEFAULT '',
    started_at  TIMESTAMPTZ,          -- of the first attempt
    ended_at    TIMESTAMPTZ,          -- once settled
    duration_ms BIGINT,
    -- One object per attempt; times are RFC 3339 strings in UTC as the events carry them, so a
    -- replay writes the same bytes.
    history     JSONB       NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, node_id)
);

-- +goose Down
DROP TABLE pipeline_node_runs;
DROP TABLE pipeline_runs;
DROP TABLE pipelines;
