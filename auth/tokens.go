package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
)

const (
	Issuer   = "gathering"
	Audience = "gathering-api"
)

// Claims are what an access token asserts. Session is the refresh-token family the token was
// issued in, so logging out can end the whole session.
type Claims struct {
	Role    domain.Role `json:"role"`
	Session string      `json:"sid"`
	jwt.RegisteredClaims
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    string
	Role      domain.Role
	TokenID   string
	Session   string
	ExpiresAt time.Time
}

// Actor is the principal as the domain sees it.
func (p Principal) Actor() domain.Actor { return domain.Actor{ID: p.UserID, Role: p.Role} }

// knownDefaults are secrets from examples and old configs that production must refuse.
var knownDefaults = map[string]bool{
	"dev-secret-key-change-me": true, "change-me": true, "changeme": true, "secret": true,
	"your-secret-key": true, "gathering-secret": true, "supersecret": true,
	"please-change-this-secret-in-production!!": true,
}

// CheckSecret refuses a signing secret that production must not run with.
func CheckSecret(secret []byte) error {
	if len(secret) < 32 {
		return fmt.Errorf("JWT_SECRET must be at least 32 bytes (got %d)", len(secret))
	}
	if knownDefaults[string(secret)] {
		return errors.New("JWT_SECRET is a published default; generate one with `openssl rand -base64 48`")
	}
	return nil
}

// RandomSecret is used in development when no JWT_SECRET is configured; tokens then do not
// survive a restart.
func RandomSecret() []byte {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return b
}

// Tokens signs and verifies access tokens.
type Tokens struct {
	secret    []byte
	AccessTTL time.Duration
	Now       func() time.Time
}

// NewTokens returns a signer with a 15-minute access token lifetime.
func NewTokens(secret []byte) *Tokens {
	return &Tokens{secret: secret, AccessTTL: 15 * time.Minute, Now: time.Now}
}

// Issue signs an access token for user in session.
func (t *Tokens) Issue(userID string, role domain.Role, session string) (string, Principal, error) {
	now := t.Now()
	p := Principal{UserID: userID, Role: role, TokenID: uuid.NewString(), Session: session, ExpiresAt: now.Add(t.AccessTTL).Truncate(time.Second)}
	claims := Claims{Role: role, Session: session, RegisteredClaims: jwt.RegisteredClaims{
		Subject: userID, Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, ID: p.TokenID,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(p.ExpiresAt), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
	}}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return signed, p, err
}

// ErrInvalidToken covers every reason a token is refused; the reason is not told to the client.
var ErrInvalidToken = &domain.Error{Code: domain.CodeUnauthorized, Message: "invalid or expired token"}

// Parse verifies signature, algorithm, issuer, audience and expiry.
func (t *Tokens) Parse(token string) (Principal, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(t.Now), jwt.WithLeeway(5*time.Second))
	if err != nil || c.Subject == "" || c.ID == "" || (c.Role != domain.RoleAdmin && c.Role != domain.RoleMember) {
		return Principal{}, ErrInvalidToken
	}
	return Principal{UserID: c.Subject, Role: c.Role, TokenID: c.ID, Session: c.Session, ExpiresAt: c.ExpiresAt.Time}, nil
}

// newRefreshToken returns an opaque refresh token and the hash under which it is stored.
func newRefreshToken() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefresh(token)
}

func hashRefresh(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
