-- name: InsertRefreshToken :exec
INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
VALUES (sqlc.arg(token_hash), sqlc.arg(family_id), sqlc.arg(user_id), sqlc.arg(expires_at));

-- name: LockRefreshToken :one
SELECT token_hash, family_id, user_id, expires_at, used_at, revoked_at
FROM refresh_tokens WHERE token_hash = sqlc.arg(token_hash)
FOR UPDATE;

-- name: MarkRefreshTokenUsed :exec
UPDATE refresh_tokens SET used_at = now() WHERE token_hash = sqlc.arg(token_hash);

-- name: RevokeRefreshFamily :execrows
UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = sqlc.arg(family_id) AND revoked_at IS NULL;

-- name: RevokeUserRefreshTokens :execrows
UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = sqlc.arg(user_id) AND revoked_at IS NULL;

-- name: DenyToken :exec
INSERT INTO token_denylist (jti, expires_at) VALUES (sqlc.arg(jti), sqlc.arg(expires_at))
ON CONFLICT (jti) DO NOTHING;

-- TokenStanding answers in one round trip whether a request's token may still be used: the
-- token itself was not revoked, its session was not ended, and its user is still active.
-- name: TokenStanding :one
SELECT EXISTS (SELECT 1 FROM token_denylist WHERE jti = sqlc.arg(jti)) AS token_revoked,
       EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = sqlc.arg(family_id) AND revoked_at IS NOT NULL) AS session_revoked,
       coalesce((SELECT active FROM users WHERE id = sqlc.arg(user_id)), false)::boolean AS user_active;

-- name: PurgeDenylist :execrows
DELETE FROM token_denylist WHERE expires_at < sqlc.arg(before);

-- name: PurgeRefreshTokens :execrows
DELETE FROM refresh_tokens WHERE expires_at < sqlc.arg(before);
