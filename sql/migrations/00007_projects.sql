-- +goose Up
-- Project names are unique; the name is claimed in the creating command's transaction, like a
-- circle's. It never changes, so a claim is never released.
CREATE TABLE project_names (
    name       TEXT PRIMARY KEY,
    project_id UUID NOT NULL
);

-- Read models of the "projects" projection.
CREATE TABLE projects (
    id             UUID        PRIMARY KEY,
    name           TEXT        NOT NULL,
    display_name   TEXT        NOT NULL,
    description    TEXT        NOT NULL,
    repository_url TEXT        NOT NULL,
    default_branch TEXT        NOT NULL,
    tech_stack     JSONB       NOT NULL,
    languages      JSONB       NOT NULL,
    frameworks     JSONB       NOT NULL,
    conventions    TEXT        NOT NULL,
    owner          TEXT        NOT NULL,
    status         TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    last_position  BIGINT      NOT NULL
);
CREATE UNIQUE INDEX projects_name_idx ON projects (name);
CREATE INDEX projects_owner_idx ON projects (owner, name);

CREATE TABLE project_circles (
    project_id UUID        NOT NULL,
    circle_id  UUID        NOT NULL,
    linked_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, circle_id)
);
CREATE INDEX project_circles_circle_idx ON project_circles (circle_id);

-- +goose Down
DROP TABLE project_circles;
DROP TABLE projects;
DROP TABLE project_names;
