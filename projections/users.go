package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Users is the projection behind login and user management.
type Users struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewUsers returns the users projection.
func NewUsers(events *domain.Registry) *Users { return &Users{q: dbq.New(), events: events} }

func (*Users) Name() string     { return "users" }
func (*Users) Tables() []string { return []string{"users"} }

func (u *Users) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeUser {
		return nil
	}
	ev, err := u.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	id, err := uuid.Parse(e.StreamID[len("user-"):])
	if err != nil {
		return err
	}
	switch ev := ev.(type) {
	case *domain.UserRegistered:
		return u.q.InsertUser(ctx, q, dbq.InsertUserParams{ID: id, Email: ev.Email, EmailLower: domain.NormalizeEmail(ev.Email),
			Name: ev.Name, Role: string(ev.Role), PasswordHash: ev.PasswordHash, Version: e.Version, CreatedAt: e.OccurredAt,
			LastPosition: e.Position})
	case *domain.UserPasswordChanged:
		return u.q.SetUserPassword(ctx, q, dbq.SetUserPasswordParams{ID: id, PasswordHash: ev.PasswordHash, Version: e.Version,
			UpdatedAt: e.OccurredAt, LastPosition: e.Position})
	case *domain.UserDeactivated:
		return u.q.SetUserActive(ctx, q, dbq.SetUserActiveParams{ID: id, Active: false, Version: e.Version,
			UpdatedAt: e.OccurredAt, LastPosition: e.Position})
	case *domain.UserRoleChanged:
		return u.q.SetUserRole(ctx, q, dbq.SetUserRoleParams{ID: id, Role: string(ev.Role), Version: e.Version,
			UpdatedAt: e.OccurredAt, LastPosition: e.Position})
	default:
		// Security facts share the stream; the row tracks the stream version all the same.
		return u.q.BumpUserVersion(ctx, q, dbq.BumpUserVersionParams{ID: id, Version: e.Version, LastPosition: e.Position})
	}
}

func (u *Users) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := u.q.UsersChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// UserRecord is a user as the server knows it, password hash included: never serialise it.
type UserRecord struct {
	ID           string
	Email        string
	Name         string
	Role         domain.Role
	PasswordHash string
	Active       bool
	Version      int64
	CreatedAt    time.Time
}

// UserView is a user as the API shows it.
type UserView struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Name      string      `json:"name"`
	Role      domain.Role `json:"role"`
	Active    bool        `json:"active"`
	Version   int64       `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
}

// View drops what a client must never see.
func (u UserRecord) View() UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Active: u.Active, Version: u.Version, CreatedAt: u.CreatedAt}
}

func userRecord(r dbq.User) UserRecord {
	return UserRecord{ID: r.ID.String(), Email: r.Email, Name: r.Name, Role: domain.Role(r.Role), PasswordHash: r.PasswordHash,
		Active: r.Active, Version: r.Version, CreatedAt: r.CreatedAt.UTC()}
}

// UserQueries reads the users read model.
type UserQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewUserQueries returns user queries on db.
func NewUserQueries(db *sql.DB) *UserQueries { return &UserQueries{db: db, q: dbq.New()} }

var errUserNotFound = domain.Errorf(domain.CodeNotFound, "user not found")

// ByID returns one user.
func (u *UserQueries) ByID(ctx context.Context, id string) (UserRecord, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return UserRecord{}, errUserNotFound
	}
	r, err := u.q.GetUser(ctx, u.db, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return UserRecord{}, errUserNotFound
	}
	if err != nil {
		return UserRecord{}, err
	}
	return userRecord(dbq.User(r)), nil
}

// ByEmail returns the user with that address (case-insensitive).
func (u *UserQueries) ByEmail(ctx context.Context, email string) (UserRecord, error) {
	r, err := u.q.GetUserByEmail(ctx, u.db, domain.NormalizeEmail(email))
	if errors.Is(err, sql.ErrNoRows) {
		return UserRecord{}, errUserNotFound
	}
	if err != nil {
		return UserRecord{}, err
	}
	return userRecord(dbq.User(r)), nil
}

// List returns up to limit users in creation order after the given one.
func (u *UserQueries) List(ctx context.Context, after *AgentPageCursor, limit int) ([]UserView, *AgentPageCursor, error) {
	cur := AgentPageCursor{CreatedAt: time.Unix(0, 0).UTC()}
	if after != nil {
		cur = *after
	}
	rows, err := u.q.ListUsers(ctx, u.db, dbq.ListUsersParams{AfterCreated: cur.CreatedAt, AfterID: cur.ID, MaxRows: int32(limit + 1)})
	if err != nil {
		return nil, nil, err
	}
	var next *AgentPageCursor
	if len(rows) > limit {
		rows = rows[:limit]
		next = &AgentPageCursor{CreatedAt: rows[len(rows)-1].CreatedAt, ID: rows[len(rows)-1].ID}
	}
	out := make([]UserView, 0, len(rows))
	for _, r := range rows {
		out = append(out, userRecord(dbq.User(r)).View())
	}
	return out, next, nil
}

// Audit is the projection behind GET /audit: every security fact and every admin action.
type Audit struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewAudit returns the audit projection.
func NewAudit(events *domain.Registry) *Audit { return &Audit{q: dbq.New(), events: events} }

func (*Audit) Name() string     { return "audit" }
func (*Audit) Tables() []string { return []string{"audit_log"} }

// Audited reports whether an event belongs in the audit trail.
func Audited(e eventlog.Event) bool {
	return e.StreamType == domain.StreamTypeUser || e.StreamType == domain.StreamTypeAuth ||
		e.Metadata.Extra["actor_role"] == string(domain.RoleAdmin)
}

func (a *Audit) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if !Audited(e) {
		return nil
	}
	details := a.events.Redact(e.Type, e.Payload)
	userID := ""
	if e.StreamType == domain.StreamTypeUser {
		userID = e.StreamID[len("user-"):]
	}
	var probe struct {
		UserID string `json:"user_id"`
	}
	if userID == "" && json.Unmarshal(e.Payload, &probe) == nil {
		userID = probe.UserID
	}
	x := e.Metadata.Extra
	return a.q.InsertAuditEntry(ctx, q, dbq.InsertAuditEntryParams{Position: e.Position, OccurredAt: e.OccurredAt, EventType: e.Type,
		StreamID: e.StreamID, UserID: userID, Actor: e.Metadata.Actor, Ip: x["ip"], UserAgent: x["user_agent"],
		RequestID: x["request_id"], Details: details})
}

func (a *Audit) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := a.q.AuditChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	Position   int64           `json:"position"`
	OccurredAt time.Time       `json:"occurred_at"`
	Type       string          `json:"type"`
	StreamID   string          `json:"stream_id"`
	UserID     string          `json:"user_id,omitempty"`
	Actor      string          `json:"actor"`
	IP         string          `json:"ip"`
	UserAgent  string          `json:"user_agent"`
	RequestID  string          `json:"request_id"`
	Details    json.RawMessage `json:"details"`
}

// AuditFilter selects audit entries; zero values match everything.
type AuditFilter struct {
	UserID string
	Type   string
	Since  time.Time
	Until  time.Time
	Limit  int
}

// ListAudit returns the newest matching entries first.
func ListAudit(ctx context.Context, db dbq.DBTX, f AuditFilter) ([]AuditEntry, error) {
	if f.Since.IsZero() {
		f.Since = time.Unix(0, 0)
	}
	if f.Until.IsZero() {
		f.Until = time.Now().Add(24 * time.Hour)
	}
	rows, err := dbq.New().ListAudit(ctx, db, dbq.ListAuditParams{UserID: nullString(f.UserID), EventType: nullString(f.Type),
		Since: f.Since, Until: f.Until, BeforeTime: f.Until, BeforePosition: 1<<63 - 1, MaxRows: int32(f.Limit)})
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, AuditEntry{Position: r.Position, OccurredAt: r.OccurredAt.UTC(), Type: r.EventType, StreamID: r.StreamID,
			UserID: r.UserID, Actor: r.Actor, IP: r.Ip, UserAgent: r.UserAgent, RequestID: r.RequestID, Details: r.Details})
	}
	return out, nil
}
