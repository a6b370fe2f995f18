-- name: InsertChatSession :exec
INSERT INTO chat_sessions (id, agent_id, owner, messages, created_at, updated_at, last_position)
VALUES (sqlc.arg(id), sqlc.arg(agent_id), sqlc.arg(owner), 0, sqlc.arg(at), sqlc.arg(at), sqlc.arg(last_position))
ON CONFLICT (id) DO NOTHING;

-- name: AddChatMessage :exec
WITH s AS (
    UPDATE chat_sessions SET messages = messages + 1, updated_at = sqlc.arg(at), last_position = sqlc.arg(last_position)
    WHERE id = sqlc.arg(session_id)
    RETURNING messages
)
INSERT INTO chat_messages (session_id, message_id, seq, role, content, status, error, totals, created_at)
SELECT sqlc.arg(session_id), sqlc.arg(message_id), s.messages, sqlc.arg(role), sqlc.arg(content), sqlc.arg(status), '',
       sqlc.arg(totals), sqlc.arg(at)
FROM s
ON CONFLICT (session_id, message_id) DO NOTHING;

-- name: SetChatMessageStatus :exec
UPDATE chat_messages SET status = sqlc.arg(status), error = sqlc.arg(error)
WHERE session_id = sqlc.arg(session_id) AND message_id = sqlc.arg(message_id);

-- name: ChatSessionAgent :one
SELECT agent_id FROM chat_sessions WHERE id = sqlc.arg(id);

-- name: AddAgentUsage :exec
INSERT INTO agent_usage (agent_id, model_calls, tool_calls, input_tokens, output_tokens, cost_usd, last_position)
VALUES (sqlc.arg(agent_id), sqlc.arg(model_calls), sqlc.arg(tool_calls), sqlc.arg(input_tokens), sqlc.arg(output_tokens),
        sqlc.arg(cost_usd), sqlc.arg(last_position))
ON CONFLICT (agent_id) DO UPDATE SET
    model_calls = agent_usage.model_calls + excluded.model_calls,
    tool_calls = agent_usage.tool_calls + excluded.tool_calls,
    input_tokens = agent_usage.input_tokens + excluded.input_tokens,
    output_tokens = agent_usage.output_tokens + excluded.output_tokens,
    cost_usd = agent_usage.cost_usd + excluded.cost_usd,
    last_position = excluded.last_position
WHERE agent_usage.last_position < excluded.last_position;

-- name: GetAgentUsage :one
SELECT agent_id, model_calls, tool_calls, input_tokens, output_tokens, cost_usd, last_position
FROM agent_usage WHERE agent_id = sqlc.arg(agent_id);

-- name: GetChatSession :one
SELECT id, agent_id, owner, messages, created_at, updated_at, last_position FROM chat_sessions WHERE id = sqlc.arg(id);

-- name: ListChatMessages :many
SELECT session_id, message_id, seq, role, content, status, error, totals, created_at
FROM chat_messages WHERE session_id = sqlc.arg(session_id) ORDER BY seq;

-- name: ChatsChecksum :one
SELECT (SELECT count(*) FROM chat_messages) AS row_count,
       md5(coalesce((SELECT string_agg(concat_ws('|', session_id::text, message_id, seq::text, role, content, status, error, totals::text),
                             E'\n' ORDER BY session_id, seq) FROM chat_messages), '') ||
           coalesce((SELECT string_agg(concat_ws('|', agent_id::text, model_calls::text, tool_calls::text, input_tokens::text,
                             output_tokens::text, cost_usd::text), E'\n' ORDER BY agent_id) FROM agent_usage), '') ||
           coalesce((SELECT string_agg(concat_ws('|', id::text, agent_id::text, owner, messages::text), E'\n' ORDER BY id)
                     FROM chat_sessions), ''))::text AS checksum;
