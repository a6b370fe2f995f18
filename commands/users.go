package commands

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
)

// RegisterUser opens an account. The password is hashed by the caller: bcrypt takes a quarter
// of a second and must not run inside the command's transaction.
type RegisterUser struct {
	Envelope
	UserID       string      `json:"user_id"`
	Email        string      `json:"email"`
	Name         string      `json:"name"`
	Role         domain.Role `json:"role"`
	PasswordHash string      `json:"password_hash"`
	Via          string      `json:"via"`
}

// ChangePassword replaces a user's password hash.
type ChangePassword struct {
	Envelope
	UserID       string `json:"user_id"`
	PasswordHash string `json:"password_hash"`
}

// DeactivateUser closes an account.
type DeactivateUser struct {
	Envelope
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// ChangeUserRole makes a user an admin or a member.
type ChangeUserRole struct {
	Envelope
	UserID string      `json:"user_id"`
	Role   domain.Role `json:"role"`
}

// RecordAuthEvent appends a security fact (login, logout, refresh, reuse) to the user's stream,
// or for an unknown email to a stream of that address, for the audit trail.
type RecordAuthEvent struct {
	Envelope
	Event domain.AuthEvent `json:"event"`
	Kind  string           `json:"kind"`
}

// Users holds the account use cases.
type Users struct{ repo *Repository }

// RegisterUsers adds the user command handlers to the bus.
func RegisterUsers(b *Bus, repo *Repository) *Users {
	u := &Users{repo: repo}
	handle(b, "users.register", u.Register)
	handle(b, "users.change_password", u.ChangePassword)
	handle(b, "users.deactivate", u.Deactivate)
	handle(b, "users.change_role", u.ChangeRole)
	handle(b, "auth.record", u.Record)
	return u
}

func newUser() *domain.User { return &domain.User{} }

func userChange(id string, env Envelope) change {
	return change{streamID: domain.UserStreamID(id), streamType: domain.StreamTypeUser, env: env}
}

// ErrEmailTaken is the answer to registering an address twice.
var ErrEmailTaken = &domain.Error{Code: domain.CodeConflict, Message: "email: is already registered",
	Fields: []domain.FieldError{{Field: "email", Message: "is already registered"}}}

func (u *Users) Register(ctx context.Context, cmd *RegisterUser) (Result, error) {
	c := userChange(cmd.UserID, cmd.Envelope)
	c.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO user_emails (email_lower, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			domain.NormalizeEmail(cmd.Email), cmd.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrEmailTaken
		}
		return nil
	}
	return execute(ctx, u.repo, c, newUser, func(agg *domain.User) ([]domain.Event, error) {
		return agg.Register(cmd.UserID, cmd.Email, cmd.Name, cmd.Role, cmd.PasswordHash, cmd.Via)
	})
}

func (u *Users) ChangePassword(ctx context.Context, cmd *ChangePassword) (Result, error) {
	return execute(ctx, u.repo, userChange(cmd.UserID, cmd.Envelope), newUser, func(agg *domain.User) ([]domain.Event, error) {
		return agg.ChangePassword(cmd.actor(), cmd.PasswordHash)
	})
}

func (u *Users) Deactivate(ctx context.Context, cmd *DeactivateUser) (Result, error) {
	return execute(ctx, u.repo, userChange(cmd.UserID, cmd.Envelope), newUser, func(agg *domain.User) ([]domain.Event, error) {
		return agg.Deactivate(cmd.actor(), cmd.Reason)
	})
}

func (u *Users) ChangeRole(ctx context.Context, cmd *ChangeUserRole) (Result, error) {
	return execute(ctx, u.repo, userChange(cmd.UserID, cmd.Envelope), newUser, func(agg *domain.User) ([]domain.Event, error) {
		return agg.ChangeRole(cmd.actor(), cmd.Role)
	})
}

// authFact is the aggregate of a stream that only records security facts: it has no rules,
// every fact is accepted.
type authFact struct{}

func (authFact) Apply(domain.Event) {}

func (u *Users) Record(ctx context.Context, cmd *RecordAuthEvent) (Result, error) {
	ev := cmd.Event
	ev.Kind = cmd.Kind
	c := change{env: cmd.Envelope}
	if ev.UserID != "" {
		c.streamID, c.streamType = domain.UserStreamID(ev.UserID), domain.StreamTypeUser
	} else {
		// Failures for unknown addresses get a stream per address (hashed: the stream id is
		// visible to operators), which also keeps their counts apart.
		sum := sha256.Sum256([]byte(domain.NormalizeEmail(ev.Email)))
		c.streamID, c.streamType = "auth-"+hex.EncodeToString(sum[:12]), domain.StreamTypeAuth
	}
	return execute(ctx, u.repo, c, func() authFact { return authFact{} }, func(authFact) ([]domain.Event, error) {
		return []domain.Event{&ev}, nil
	})
}
