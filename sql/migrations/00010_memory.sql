-- +goose Up
-- Read model of the "memory" projection: an agent's memories and the chunks of knowledge-base
-- documents, in one table so that recall searches both with one query. Rows are derived from
-- memory.* and knowledge.* events; the vector comes from embedding_cache, which the embedding
-- job fills before it records memory.embedded (a projection never calls a model).
CREATE TABLE memory_items (
    id              UUID        PRIMARY KEY,
    kind            TEXT        NOT NULL,            -- memory | knowledge
    scope           TEXT        NOT NULL,            -- global | circle | agent | conversation | project
    scope_id        TEXT        NOT NULL,            -- '' for global
    -- The user the item belongs to; global items are shared by that user's agents only.
    owner           TEXT        NOT NULL,
    agent_id        UUID,                            -- the agent that remembered it
    document_id     UUID,                            -- knowledge: the document and chunk
    chunk_index     INT         NOT NULL DEFAULT 0,
    source          TEXT        NOT NULL DEFAULT '',
    content         TEXT        NOT NULL,
    content_hash    TEXT        NOT NULL,
    tags            TEXT[]      NOT NULL DEFAULT '{}',
    importance      REAL        NOT NULL DEFAULT 0.5,
    expires_at      TIMESTAMPTZ,
    embedding_model TEXT        NOT NULL DEFAULT '',
    embedding_dim   INT         NOT NULL DEFAULT 0,
    -- Unit length, so cosine similarity is a dot product on the exact path.
    embedding       REAL[],
    search_text     TSVECTOR    GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,
    created_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT      NOT NULL,
    last_position   BIGINT      NOT NULL
);
CREATE INDEX memory_items_scope_idx ON memory_items (owner, scope, scope_id);
CREATE INDEX memory_items_agent_idx ON memory_items (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX memory_items_document_idx ON memory_items (document_id, chunk_index) WHERE document_id IS NOT NULL;
CREATE INDEX memory_items_model_idx ON memory_items (embedding_model, embedding_dim);
CREATE INDEX memory_items_text_idx ON memory_items USING gin (search_text);
CREATE INDEX memory_items_tags_idx ON memory_items USING gin (tags);

-- Knowledge documents as uploaded (their chunks are memory_items of kind knowledge).
CREATE TABLE knowledge_documents (
    id            UUID        PRIMARY KEY,
    title         TEXT        NOT NULL,
    format        TEXT        NOT NULL,
    scope         TEXT        NOT NULL,
    scope_id      TEXT        NOT NULL,
    owner         TEXT        NOT NULL,
    chunks        INT         NOT NULL,
    bytes         INT         NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_position BIGINT      NOT NULL
);
CREATE INDEX knowledge_documents_owner_idx ON knowledge_documents (owner, created_at);

-- Embeddings by (model, content hash): a cache in front of the providers, shared by memories,
-- knowledge chunks and queries. Not a read model: replays read it, never rebuild it.
CREATE TABLE embedding_cache (
    model        TEXT        NOT NULL,
    content_hash TEXT        NOT NULL,
    dim          INT         NOT NULL,
    embedding    REAL[]      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (model, content_hash)
);

-- +goose Down
DROP TABLE embedding_cache;
DROP TABLE knowledge_documents;
DROP TABLE memory_items;
