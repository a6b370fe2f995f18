-- +goose Up
-- The event log is the source of truth: every other table in this database can be rebuilt from it.
CREATE SCHEMA IF NOT EXISTS eventlog;

-- One table is both the event store and the watermill-sql outbox. Its "offset" is the global
-- position; consumers read it in (transaction_id, "offset") order and only below the oldest
-- running transaction (pg_snapshot_xmin), which is what makes the global order gap-safe.
CREATE TABLE eventlog.events (
    "offset"        BIGSERIAL   NOT NULL,
    uuid            UUID        NOT NULL,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       TEXT        NOT NULL,
    stream_type     TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL CHECK (stream_version > 0),
    event_type      TEXT        NOT NULL,
    schema_version  INT         NOT NULL CHECK (schema_version > 0),
    -- json (not jsonb) keeps the exact bytes that were hashed, so the chain can be verified.
    payload         JSON        NOT NULL,
    metadata        JSON        NOT NULL,
    correlation_id  TEXT        NOT NULL DEFAULT '',
    causation_id    TEXT        NOT NULL DEFAULT '',
    actor           TEXT        NOT NULL DEFAULT '',
    occurred_at     TIMESTAMPTZ NOT NULL,
    prev_hash       BYTEA       NOT NULL,
    hash            BYTEA       NOT NULL,
    PRIMARY KEY (transaction_id, "offset"),
    -- The expected-version guard: two writers that loaded the same version cannot both append.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_offset_key UNIQUE ("offset"),
    CONSTRAINT events_uuid_key UNIQUE (uuid)
);

CREATE INDEX events_type_order_idx ON eventlog.events (event_type, transaction_id, "offset");
CREATE INDEX events_stream_type_order_idx ON eventlog.events (stream_type, transaction_id, "offset");
CREATE INDEX events_correlation_idx ON eventlog.events (correlation_id) WHERE correlation_id <> '';

-- Append-only: history is never rewritten by the application. A superuser can still bypass
-- triggers, which is exactly what the hash chain exists to detect.
-- +goose StatementBegin
CREATE FUNCTION eventlog.reject_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventlog.events is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON eventlog.events
    FOR EACH ROW EXECUTE FUNCTION eventlog.reject_mutation();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON eventlog.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog.reject_mutation();

-- Consumer groups (projections, process managers) and how far each has read.
CREATE TABLE eventlog.consumer_offsets (
    consumer_group                VARCHAR(255) PRIMARY KEY,
    offset_acked                  BIGINT       NOT NULL DEFAULT 0,
    last_processed_transaction_id xid8         NOT NULL DEFAULT '0',
    updated_at                    TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE eventlog.consumer_offsets;
DROP TABLE eventlog.events;
DROP FUNCTION eventlog.reject_mutation();
DROP SCHEMA eventlog;
