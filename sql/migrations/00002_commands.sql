-- +goose Up
-- A command sent with an Idempotency-Key is applied once. The key is claimed in the same
-- transaction that appends the command's events, so a retry can never append twice; the HTTP
-- response is stored afterwards so that the retry gets the same answer.
CREATE TABLE idempotency_keys (
    key              TEXT        PRIMARY KEY,
    fingerprint      TEXT        NOT NULL,
    stream_id        TEXT        NOT NULL,
    stream_version   BIGINT      NOT NULL,
    position         BIGINT      NOT NULL,
    transaction_id   BIGINT      NOT NULL,
    response_status  INT,
    response_body    BYTEA,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
