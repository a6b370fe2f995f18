-- name: InsertMemoryItem :exec
INSERT INTO memory_items (id, kind, scope, scope_id, owner, agent_id, document_id, chunk_index, source, content, content_hash,
    tags, importance, expires_at, created_at, version, last_position)
VALUES (sqlc.arg(id), sqlc.arg(kind), sqlc.arg(scope), sqlc.arg(scope_id), sqlc.arg(owner), sqlc.narg(agent_id), sqlc.narg(document_id),
    sqlc.arg(chunk_index), sqlc.arg(source), sqlc.arg(content), sqlc.arg(content_hash), sqlc.arg(tags)::text[], sqlc.arg(importance),
    sqlc.narg(expires_at), sqlc.arg(created_at), sqlc.arg(version), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- The vector comes from the cache the embedding job filled before it recorded the event; an
-- item whose cache row is gone stays without one until it is embedded again.
-- name: SetMemoryEmbedding :exec
UPDATE memory_items m SET embedding = c.embedding, embedding_model = c.model, embedding_dim = c.dim,
    version = sqlc.arg(version), last_position = sqlc.arg(last_position)
FROM embedding_cache c
WHERE m.id = sqlc.arg(id) AND c.model = sqlc.arg(model) AND c.content_hash = m.content_hash;

-- name: SetDocumentEmbeddings :exec
UPDATE memory_items m SET embedding = c.embedding, embedding_model = c.model, embedding_dim = c.dim,
    version = sqlc.arg(version), last_position = sqlc.arg(last_position)
FROM embedding_cache c
WHERE m.document_id = sqlc.arg(document_id) AND c.model = sqlc.arg(model) AND c.content_hash = m.content_hash;

-- name: DeleteMemoryItem :exec
DELETE FROM memory_items WHERE id = sqlc.arg(id);

-- name: DeleteDocumentItems :exec
DELETE FROM memory_items WHERE document_id = sqlc.arg(document_id);

-- name: InsertKnowledgeDocument :exec
INSERT INTO knowledge_documents (id, title, format, scope, scope_id, owner, chunks, bytes, created_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(title), sqlc.arg(format), sqlc.arg(scope), sqlc.arg(scope_id), sqlc.arg(owner), sqlc.arg(chunks),
    sqlc.arg(bytes), sqlc.arg(created_at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: DeleteKnowledgeDocument :exec
DELETE FROM knowledge_documents WHERE id = sqlc.arg(id);

-- name: ListKnowledgeDocuments :many
SELECT * FROM knowledge_documents
WHERE (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(scope)::text IS NULL OR scope = sqlc.narg(scope))
ORDER BY created_at DESC, id
LIMIT sqlc.arg(max_rows);

-- name: GetMemoryItem :one
SELECT id, kind, scope, scope_id, owner, agent_id, document_id, chunk_index, source, content, tags, importance, expires_at,
    embedding_model, embedding_dim, created_at
FROM memory_items WHERE id = sqlc.arg(id);

-- name: MemoryStats :many
SELECT kind, scope, embedding_model, embedding_dim, count(*)::bigint AS items,
       count(*) FILTER (WHERE embedding IS NULL)::bigint AS not_embedded
FROM memory_items
WHERE (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
GROUP BY kind, scope, embedding_model, embedding_dim
ORDER BY kind, scope, embedding_model, embedding_dim;

-- Items not embedded by model: what a change of model leaves to re-embed.
-- name: StaleMemoryItems :many
SELECT DISTINCT coalesce(document_id, id)::uuid AS id, kind FROM memory_items
WHERE embedding_model <> sqlc.arg(model)
LIMIT sqlc.arg(max_rows);

-- name: CachedEmbeddings :many
SELECT content_hash, dim, embedding FROM embedding_cache WHERE model = sqlc.arg(model) AND content_hash = ANY(sqlc.arg(hashes)::text[]);

-- name: PutEmbedding :exec
INSERT INTO embedding_cache (model, content_hash, dim, embedding) VALUES (sqlc.arg(model), sqlc.arg(content_hash), sqlc.arg(dim), sqlc.arg(embedding)::real[])
ON CONFLICT (model, content_hash) DO NOTHING;

-- name: MemoryChecksum :one
SELECT (SELECT count(*) FROM memory_items) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', id::text, kind, scope, scope_id, owner, content_hash, array_to_string(tags, ','),
                importance::text, embedding_model, embedding_dim::text, md5(coalesce(embedding::text, ''))), E'\n' ORDER BY id) FROM memory_items), '') ||
           coalesce((SELECT string_agg(concat_ws('|', id::text, title, chunks::text), E'\n' ORDER BY id) FROM knowledge_documents), ''))::text AS checksum;

-- name: GetKnowledgeDocument :one
SELECT * FROM knowledge_documents WHERE id = sqlc.arg(id);
