-- +goose Up
-- The last event each projection applied, written in the same transaction as the event's
-- effect. watermill-sql commits a consumer's transaction when it closes even if the message in
-- flight was never acked (its offset stays behind while its effect is in): this guard makes the
-- redelivered event a no-op, so each event takes effect exactly once also across shutdowns.
CREATE TABLE projection_applied (
    projection     TEXT   PRIMARY KEY,
    transaction_id BIGINT NOT NULL,
    position       BIGINT NOT NULL
);

-- +goose Down
DROP TABLE projection_applied;
