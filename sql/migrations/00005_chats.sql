-- +goose Up
-- Read models of the "chats" projection: sessions, their transcripts, and usage per agent.
CREATE TABLE chat_sessions (
    id            UUID        PRIMARY KEY,
    agent_id      UUID        NOT NULL,
    owner         TEXT        NOT NULL,
    messages      INT         NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
CREATE INDEX chat_sessions_agent_idx ON chat_sessions (agent_id, updated_at);

CREATE TABLE chat_messages (
    session_id   UUID        NOT NULL,
    message_id   TEXT        NOT NULL,
    seq          INT         NOT NULL,
    role         TEXT        NOT NULL,
    content      TEXT        NOT NULL,
    status       TEXT        NOT NULL, -- posted, answered, failed (user messages); reply (assistant)
    error        TEXT        NOT NULL,
    totals       JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, message_id)
);
CREATE INDEX chat_messages_seq_idx ON chat_messages (session_id, seq);

CREATE TABLE agent_usage (
    agent_id       UUID             PRIMARY KEY,
    model_calls    BIGINT           NOT NULL,
    tool_calls     BIGINT           NOT NULL,
    input_tokens   BIGINT           NOT NULL,
    output_tokens  BIGINT           NOT NULL,
    cost_usd       DOUBLE PRECISION NOT NULL,
    last_position  BIGINT           NOT NULL
);

-- +goose Down
DROP TABLE agent_usage;
DROP TABLE chat_messages;
DROP TABLE chat_sessions;
