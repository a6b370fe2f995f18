-- +goose Up
-- Agents remember who created them: members see and change only what they own.
ALTER TABLE agents ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX agents_owner_idx ON agents (created_by, created_at, id);

-- Users read model, built by the "users" projection from user.* events.
CREATE TABLE users (
    id             UUID        PRIMARY KEY,
    email          TEXT        NOT NULL,
    email_lower    TEXT        NOT NULL,
    name           TEXT        NOT NULL,
    role           TEXT        NOT NULL,
    password_hash  TEXT        NOT NULL,
    active         BOOLEAN     NOT NULL,
    version        BIGINT      NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    last_position  BIGINT      NOT NULL
);
CREATE UNIQUE INDEX users_email_lower_idx ON users (email_lower);

-- Email uniqueness is a rule across aggregates, so it is claimed in the registering command's
-- own transaction: two concurrent registrations of one address cannot both append.
CREATE TABLE user_emails (
    email_lower TEXT PRIMARY KEY,
    user_id     UUID NOT NULL
);

-- Refresh tokens are stored hashed. A family is one login; every refresh rotates the token
-- within its family, and presenting a used token again revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash  BYTEA       PRIMARY KEY,
    family_id   UUID        NOT NULL,
    user_id     UUID        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- Revoked access tokens until they would have expired anyway.
CREATE TABLE token_denylist (
    jti         TEXT        PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX token_denylist_expiry_idx ON token_denylist (expires_at);

-- Audit read model: security events and every admin action, from the log.
CREATE TABLE audit_log (
    position    BIGINT      PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    event_type  TEXT        NOT NULL,
    stream_id   TEXT        NOT NULL,
    user_id     TEXT        NOT NULL,
    actor       TEXT        NOT NULL,
    ip          TEXT        NOT NULL,
    user_agent  TEXT        NOT NULL,
    request_id  TEXT        NOT NULL,
    details     JSONB       NOT NULL
);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, occurred_at);
CREATE INDEX audit_log_type_idx ON audit_log (event_type, occurred_at);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at, position);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE token_denylist;
DROP TABLE refresh_tokens;
DROP TABLE user_emails;
DROP TABLE users;
DROP INDEX agents_owner_idx;
ALTER TABLE agents DROP COLUMN created_by;
