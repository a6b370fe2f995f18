package domain

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Role is what a user may do. Members work with what they own; admins manage users and see the
// log, the audit trail and operator status.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Password rules. bcrypt reads at most 72 bytes, so a longer password would be silently cut.
const (
	MinPasswordLen           = 12
	MaxPasswordLen           = 72
	MaxEmailLen              = 254
	MaxUserNameLen           = 100
	StreamTypeUser           = "user"
	StreamTypeAuth           = "auth"
	EventUserRegistered      = "user.registered"
	EventUserPasswordChanged = "user.password_changed"
	EventUserDeactivated     = "user.deactivated"
	EventUserRoleChanged     = "user.role_changed"
)

// Actor is who asks for a change: a user with a role, or the system itself.
type Actor struct {
	ID   string
	Role Role
}

// System acts on its own behalf (bootstrap, maintenance) with every right.
var System = Actor{ID: "system", Role: RoleAdmin}

// IsAdmin reports whether the actor may manage everything.
func (a Actor) IsAdmin() bool { return a.Role == RoleAdmin }

// UserStreamID returns the log stream of one user.
func UserStreamID(id string) string { return "user-" + id }

// User is the aggregate behind an account.
type User struct {
	ID           string
	Email        string
	Name         string
	Role         Role
	PasswordHash string
	Active       bool
	Version      int64
}

// NormalizeEmail is the form under which an address is unique.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateEmail reports whether email is a plain address.
func ValidateEmail(v *Validation, field, email string) {
	switch {
	case email == "":
		v.Add(field, "is required")
	case len(email) > MaxEmailLen:
		v.Add(field, "must be at most %d characters", MaxEmailLen)
	default:
		addr, err := mail.ParseAddress(email)
		if err != nil || addr.Address != email || addr.Name != "" {
			v.Add(field, "must be an email address such as ada@example.com")
		}
	}
}

// ValidatePassword applies the password rules; the password itself never appears in a message.
func ValidatePassword(v *Validation, field, password, email string) {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		v.Add(field, "must be at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		v.Add(field, "must be at most %d bytes", MaxPasswordLen)
	case email != "" && strings.EqualFold(password, email):
		v.Add(field, "must not be the email address")
	}
}

// Apply folds one event into the user.
func (u *User) Apply(e Event) {
	u.Version++
	switch ev := e.(type) {
	case *UserRegistered:
		u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.Active = ev.ID, ev.Email, ev.Name, ev.Role, ev.PasswordHash, true
	case *UserPasswordChanged:
		u.PasswordHash = ev.PasswordHash
	case *UserDeactivated:
		u.Active = false
	case *UserRoleChanged:
		u.Role = ev.Role
	}
}

// Register decides whether an account may be created. The password arrives already hashed:
// hashing is slow and belongs outside the command's transaction.
func (u *User) Register(id, email, name string, role Role, passwordHash, via string) ([]Event, error) {
	if u.Version > 0 {
		return nil, Errorf(CodeConflict, "user %s already exists", id)
	}
	email = strings.TrimSpace(email)
	name = strings.TrimSpace(name)
	var v Validation
	ValidateEmail(&v, "email", email)
	if utf8.RuneCountInString(name) > MaxUserNameLen {
		v.Add("name", "must be at most %d characters", MaxUserNameLen)
	} else if hasControl(name) {
		v.Add("name", "must not contain control characters")
	}
	if role != RoleAdmin && role != RoleMember {
		v.Add("role", "must be admin or member")
	}
	if passwordHash == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if name == "" {
		name = strings.SplitN(email, "@", 2)[0]
	}
	return []Event{&UserRegistered{ID: id, Email: email, Name: name, Role: role, PasswordHash: passwordHash, Via: via}}, nil
}

// authorize lets a user act on their own account and an admin on any.
func (u *User) authorize(actor Actor) error {
	if u.Version == 0 {
		return Errorf(CodeNotFound, "user not found")
	}
	if !actor.IsAdmin() && actor.ID != u.ID {
		return Errorf(CodeForbidden, "only the account holder or an admin may do this")
	}
	return nil
}

// ChangePassword replaces the password hash.
func (u *User) ChangePassword(actor Actor, passwordHash string) ([]Event, error) {
	if err := u.authorize(actor); err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, Errorf(CodeForbidden, "the account is deactivated")
	}
	return []Event{&UserPasswordChanged{ID: u.ID, PasswordHash: passwordHash}}, nil
}

// Deactivate closes the account; its tokens stop working at once.
func (u *User) Deactivate(actor Actor, reason string) ([]Event, error) {
	if err := u.authorize(actor); err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, nil
	}
	return []Event{&UserDeactivated{ID: u.ID, Reason: strings.TrimSpace(reason)}}, nil
}

// ChangeRole makes the user an admin or a member.
func (u *User) ChangeRole(actor Actor, role Role) ([]Event, error) {
	if u.Version == 0 {
		return nil, Errorf(CodeNotFound, "user not found")
	}
	if !actor.IsAdmin() {
		return nil, Errorf(CodeForbidden, "only an admin may change roles")
	}
	if role != RoleAdmin && role != RoleMember {
		return nil, &Error{Code: CodeInvalid, Message: "role: must be admin or member", Fields: []FieldError{{Field: "role", Message: "must be admin or member"}}}
	}
	if role == u.Role {
		return nil, nil
	}
	return []Event{&UserRoleChanged{ID: u.ID, Role: role}}, nil
}

// UserRegistered opens an account. Via says how: "self", "admin" or "bootstrap".
type UserRegistered struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	PasswordHash string `json:"password_hash"`
	Via          string `json:"via"`
}

func (*UserRegistered) EventType() string { return EventUserRegistered }

type UserPasswordChanged struct {
	ID           string `json:"id"`
	PasswordHash string `json:"password_hash"`
}

func (*UserPasswordChanged) EventType() string { return EventUserPasswordChanged }

type UserDeactivated struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

func (*UserDeactivated) EventType() string { return EventUserDeactivated }

type UserRoleChanged struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

func (*UserRoleChanged) EventType() string { return EventUserRoleChanged }

// Security facts that are not state changes of a user, recorded for the audit trail.
const (
	EventLoginSucceeded       = "auth.login_succeeded"
	EventLoginFailed          = "auth.login_failed"
	EventLoggedOut            = "auth.logged_out"
	EventTokenRefreshed       = "auth.token_refreshed"
	EventRefreshReuseDetected = "auth.refresh_reuse_detected"
)

// AuthEvent is one security fact about a user (or, for a failed login with an unknown email,
// about an address). It never carries a password or a token, only identifiers.
type AuthEvent struct {
	Kind     string `json:"-"`
	UserID   string `json:"user_id,omitempty"`
	Email    string `json:"email,omitempty"`
	Reason   string `json:"reason,omitempty"`
	FamilyID string `json:"family_id,omitempty"`
	TokenID  string `json:"token_id,omitempty"`
}

func (e *AuthEvent) EventType() string { return e.Kind }

func userEventSpecs() []EventSpec {
	auth := func(kind string) EventSpec {
		return EventSpec{Type: kind, Version: 1, New: func() Event { return &AuthEvent{Kind: kind} }}
	}
	return []EventSpec{
		{Type: EventUserRegistered, Version: 1, New: func() Event { return &UserRegistered{} }, Sensitive: []string{"password_hash"}},
		{Type: EventUserPasswordChanged, Version: 1, New: func() Event { return &UserPasswordChanged{} }, Sensitive: []string{"password_hash"}},
		{Type: EventUserDeactivated, Version: 1, New: func() Event { return &UserDeactivated{} }},
		{Type: EventUserRoleChanged, Version: 1, New: func() Event { return &UserRoleChanged{} }},
		auth(EventLoginSucceeded), auth(EventLoginFailed), auth(EventLoggedOut),
		auth(EventTokenRefreshed), auth(EventRefreshReuseDetected),
	}
}
