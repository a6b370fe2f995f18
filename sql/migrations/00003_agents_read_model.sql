-- +goose Up
-- Read model built by the "agents" projection. Disposable: `gathering replay agents` rebuilds it
-- from the log into a fresh copy (CREATE TABLE ... LIKE) and swaps it in, so every column must be
-- derived from events only (no now(), no sequences).
CREATE TABLE agents (
    id             UUID        PRIMARY KEY,
    name           TEXT        NOT NULL,
    role           TEXT        NOT NULL,
    provider       TEXT        NOT NULL,
    model          TEXT        NOT NULL,
    personality    JSONB       NOT NULL,
    system_prompt  TEXT        NOT NULL,
    tools          JSONB       NOT NULL,
    version        BIGINT      NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    last_position  BIGINT      NOT NULL
);
CREATE INDEX agents_list_idx ON agents (created_at, id);
CREATE INDEX agents_provider_idx ON agents (provider, created_at, id);

-- +goose Down
DROP TABLE agents;
