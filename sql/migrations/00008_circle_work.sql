-- +goose Up
-- Read models of the "circle_tasks" projection.
CREATE TABLE circle_tasks (
    id                    UUID        PRIMARY KEY,
    circle_id             UUID        NOT NULL,
    project_id            UUID,
    title                 TEXT        NOT NULL,
    description           TEXT        NOT NULL,
    required_competencies JSONB       NOT NULL,
    priority              INT         NOT NULL,
    requires_review       BOOLEAN     NOT NULL,
    status                TEXT        NOT NULL,
    offered_to            UUID,
    assignee_id           UUID,
    -- An agent's id, or "user:<id>" once a person reviewed.
    reviewer_id           TEXT,
    iteration             INT         NOT NULL,
    result                TEXT        NOT NULL,
    owner                 TEXT        NOT NULL,
    version               BIGINT      NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    last_position         BIGINT      NOT NULL
);
CREATE INDEX circle_tasks_circle_idx ON circle_tasks (circle_id, status, priority, created_at);
CREATE INDEX circle_tasks_assignee_idx ON circle_tasks (assignee_id, status);
CREATE INDEX circle_tasks_offered_idx ON circle_tasks (offered_to) WHERE status = 'offered';
CREATE INDEX circle_tasks_reviewer_idx ON circle_tasks (reviewer_id) WHERE status = 'in_review';
CREATE INDEX circle_tasks_project_idx ON circle_tasks (project_id) WHERE project_id IS NOT NULL;

-- An agent's record as an author across circles; routing weighs its approval rate.
CREATE TABLE circle_agent_reviews (
    agent_id          UUID   PRIMARY KEY,
    approved          INT    NOT NULL DEFAULT 0,
    changes_requested INT    NOT NULL DEFAULT 0,
    rejected          INT    NOT NULL DEFAULT 0
);

-- Keyed by the event's log position: replays rebuild the same keys.
CREATE TABLE circle_escalations (
    position   BIGINT      PRIMARY KEY,
    circle_id  UUID        NOT NULL,
    task_id    UUID        NOT NULL,
    severity   TEXT        NOT NULL,
    reason     TEXT        NOT NULL,
    detail     TEXT        NOT NULL,
    agent_id   TEXT        NOT NULL,
    raised_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX circle_escalations_circle_idx ON circle_escalations (circle_id, position);

CREATE TABLE circle_conflicts (
    position        BIGINT      PRIMARY KEY,
    circle_id       UUID        NOT NULL,
    task_id         UUID        NOT NULL,
    kind            TEXT        NOT NULL,
    agent_id        TEXT        NOT NULL,
    path            TEXT        NOT NULL,
    holder_task_id  TEXT        NOT NULL,
    holder_agent_id TEXT        NOT NULL,
    detected_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX circle_conflicts_circle_idx ON circle_conflicts (circle_id, position);

-- Who works on which file, claimed in the claiming command's transaction (like a circle's
-- name) so that two agents racing for one path cannot both get it.
CREATE TABLE circle_file_claims (
    circle_id  UUID        NOT NULL,
    path       TEXT        NOT NULL,
    task_id    UUID        NOT NULL,
    agent_id   UUID        NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (circle_id, path)
);
CREATE INDEX circle_file_claims_task_idx ON circle_file_claims (task_id);

-- Read model of the "conversations" projection: lists and counts without folding streams.
CREATE TABLE conversations (
    id            UUID        PRIMARY KEY,
    circle_id     UUID        NOT NULL,
    owner         TEXT        NOT NULL,
    topic         TEXT        NOT NULL,
    strategy      TEXT        NOT NULL,
    participants  JSONB       NOT NULL,
    status        TEXT        NOT NULL,
    turns_taken   INT         NOT NULL,
    max_turns     INT         NOT NULL,
    posts         INT         NOT NULL,
    end_reason    TEXT        NOT NULL,
    end_detail    TEXT        NOT NULL,
    version       BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
CREATE INDEX conversations_circle_idx ON conversations (circle_id, created_at DESC);

-- +goose Down
DROP TABLE conversations;
DROP TABLE circle_file_claims;
DROP TABLE circle_conflicts;
DROP TABLE circle_escalations;
DROP TABLE circle_agent_reviews;
DROP TABLE circle_tasks;
