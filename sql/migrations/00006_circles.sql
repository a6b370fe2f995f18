-- +goose Up
-- Circle names are unique and name circles in URLs; the name is claimed in the creating
-- command's transaction, like a user's email.
CREATE TABLE circle_names (
    name      TEXT PRIMARY KEY,
    circle_id UUID NOT NULL
);

-- Read models of the "circles" projection.
CREATE TABLE circles (
    id            UUID        PRIMARY KEY,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL,
    owner         TEXT        NOT NULL,
    status        TEXT        NOT NULL,
    version       BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
CREATE UNIQUE INDEX circles_name_idx ON circles (name);

CREATE TABLE circle_members (
    circle_id    UUID        NOT NULL,
    agent_id     UUID        NOT NULL,
    role         TEXT        NOT NULL,
    competencies JSONB       NOT NULL,
    joined_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (circle_id, agent_id)
);

-- +goose Down
DROP TABLE circle_members;
DROP TABLE circles;
DROP TABLE circle_names;
