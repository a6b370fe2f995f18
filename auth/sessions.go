package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/sql/dbq"
)

// RefreshTTL is how long a login lasts without activity; every refresh starts it again.
const RefreshTTL = 14 * 24 * time.Hour

// Sessions stores refresh-token families and the access-token denylist.
//
// The denylist is persisted in PostgreSQL, so a revocation holds across restarts and
// instances. In front of it sits a bounded LRU of tokens and sessions known to be revoked
// (write-through: a revocation fills it before it returns). A token not in the cache is checked
// in the database on every request: caching "not revoked" would let another instance's logout
// go unnoticed. When the database cannot answer, the check fails closed.
type Sessions struct {
	db      *sql.DB
	q       *dbq.Queries
	revoked *lru.Cache[string, struct{}]
	Now     func() time.Time
}

// NewSessions returns sessions on db with a denylist cache of cacheSize entries.
func NewSessions(db *sql.DB, cacheSize int) *Sessions {
	if cacheSize <= 0 {
		cacheSize = 10000
	}
	c, err := lru.New[string, struct{}](cacheSize)
	if err != nil {
		panic(err)
	}
	return &Sessions{db: db, q: dbq.New(), revoked: c, Now: time.Now}
}

// ErrUnverifiable is returned when revocation cannot be checked: the request is refused.
var ErrUnverifiable = &domain.Error{Code: domain.CodeUnavailable, Message: "cannot verify the token right now; retry shortly"}

// ErrRefreshReused means a refresh token was presented a second time: someone else may hold
// it, so its whole session has been revoked.
type ErrRefreshReused struct{ UserID, FamilyID string }

func (e *ErrRefreshReused) Error() string { return "refresh token reused; session revoked" }

// Begin starts a session (a refresh-token family) for user and returns its first refresh token.
func (s *Sessions) Begin(ctx context.Context, userID string) (token, family string, err error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return "", "", err
	}
	fam := uuid.New()
	token, hash := newRefreshToken()
	err = s.q.InsertRefreshToken(ctx, s.db, dbq.InsertRefreshTokenParams{TokenHash: hash, FamilyID: fam, UserID: uid,
		ExpiresAt: s.Now().Add(RefreshTTL)})
	return token, fam.String(), err
}

// Rotate exchanges a refresh token for a new one in the same session. A token used before
// revokes the session and returns *ErrRefreshReused.
func (s *Sessions) Rotate(ctx context.Context, token string) (userID, family, next string, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", "", "", err
	}
	defer func() { _ = tx.Rollback() }()
	row, err := s.q.LockRefreshToken(ctx, tx, hashRefresh(token))
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", ErrInvalidToken
	}
	if err != nil {
		return "", "", "", err
	}
	userID, family = row.UserID.String(), row.FamilyID.String()
	switch {
	case row.RevokedAt.Valid:
		return userID, family, "", ErrInvalidToken
	case row.UsedAt.Valid:
		if _, err := s.q.RevokeRefreshFamily(ctx, tx, row.FamilyID); err != nil {
			return "", "", "", err
		}
		if err := tx.Commit(); err != nil {
			return "", "", "", err
		}
		s.revoked.Add("session:"+family, struct{}{})
		return userID, family, "", &ErrRefreshReused{UserID: userID, FamilyID: family}
	case !row.ExpiresAt.After(s.Now()):
		return userID, family, "", ErrInvalidToken
	}
	if err := s.q.MarkRefreshTokenUsed(ctx, tx, row.TokenHash); err != nil {
		return "", "", "", err
	}
	next, hash := newRefreshToken()
	if err := s.q.InsertRefreshToken(ctx, tx, dbq.InsertRefreshTokenParams{TokenHash: hash, FamilyID: row.FamilyID,
		UserID: row.UserID, ExpiresAt: s.Now().Add(RefreshTTL)}); err != nil {
		return "", "", "", err
	}
	return userID, family, next, tx.Commit()
}

// Revoke denies one access token until it expires and ends its session.
func (s *Sessions) Revoke(ctx context.Context, p Principal) error {
	if err := s.q.DenyToken(ctx, s.db, dbq.DenyTokenParams{Jti: p.TokenID, ExpiresAt: p.ExpiresAt}); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.revoked.Add("token:"+p.TokenID, struct{}{})
	if fam, err := uuid.Parse(p.Session); err == nil {
		if _, err := s.q.RevokeRefreshFamily(ctx, s.db, fam); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		s.revoked.Add("session:"+p.Session, struct{}{})
	}
	return nil
}

// RevokeUser ends every session of a user (password change, deactivation).
func (s *Sessions) RevokeUser(ctx context.Context, userID string) error {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return err
	}
	_, err = s.q.RevokeUserRefreshTokens(ctx, s.db, uid)
	return err
}

// Check tells whether an authenticated principal may still act: its token and session are not
// revoked and its account is active. Any database error refuses the request.
func (s *Sessions) Check(ctx context.Context, p Principal) error {
	if _, hit := s.revoked.Get("token:" + p.TokenID); hit {
		return ErrInvalidToken
	}
	if _, hit := s.revoked.Get("session:" + p.Session); hit {
		return ErrInvalidToken
	}
	uid, err := uuid.Parse(p.UserID)
	if err != nil {
		return ErrInvalidToken
	}
	fam, _ := uuid.Parse(p.Session)
	st, err := s.q.TokenStanding(ctx, s.db, dbq.TokenStandingParams{Jti: p.TokenID, FamilyID: fam, UserID: uid})
	if err != nil {
		return &domain.Error{Code: ErrUnverifiable.Code, Message: ErrUnverifiable.Message, Err: err}
	}
	if st.TokenRevoked {
		s.revoked.Add("token:"+p.TokenID, struct{}{})
		return ErrInvalidToken
	}
	if st.SessionRevoked {
		s.revoked.Add("session:"+p.Session, struct{}{})
		return ErrInvalidToken
	}
	if !st.UserActive {
		return &domain.Error{Code: domain.CodeUnauthorized, Message: "the account is deactivated"}
	}
	return nil
}

// Purge deletes denylist entries and refresh tokens that have expired anyway.
func (s *Sessions) Purge(ctx context.Context) (int64, error) {
	now := s.Now()
	a, err := s.q.PurgeDenylist(ctx, s.db, now)
	if err != nil {
		return 0, err
	}
	b, err := s.q.PurgeRefreshTokens(ctx, s.db, now)
	return a + b, err
}
