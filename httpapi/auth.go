package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/projections"
)

const (
	localPrincipal = "principal"
	// wsBearerProtocol is the WebSocket subprotocol a browser offers, followed by its token as
	// a second "protocol", because browsers cannot set headers on an upgrade.
	wsBearerProtocol = "gathering.bearer"
)

var errNoToken = &domain.Error{Code: domain.CodeUnauthorized, Message: "an access token is required (Authorization: Bearer <token>)"}

func principal(c *fiber.Ctx) (auth.Principal, bool) {
	p, ok := c.Locals(localPrincipal).(auth.Principal)
	return p, ok
}

// tokenOf finds the access token: the Authorization header, or on a WebSocket upgrade the
// access_token query parameter or the bearer subprotocol.
func tokenOf(c *fiber.Ctx) string {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if !isUpgrade(c) {
		return ""
	}
	if t := c.Query("access_token"); t != "" {
		return t
	}
	protos := strings.Split(c.Get(fiber.HeaderSecWebSocketProtocol), ",")
	for i, p := range protos {
		if strings.TrimSpace(p) == wsBearerProtocol && i+1 < len(protos) {
			return strings.TrimSpace(protos[i+1])
		}
	}
	return ""
}

func isUpgrade(c *fiber.Ctx) bool {
	return strings.EqualFold(c.Get(fiber.HeaderUpgrade), "websocket")
}

// requireAuth admits a request with a valid, unrevoked token of an active user.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	token := tokenOf(c)
	if token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gathering"`)
		return errNoToken
	}
	p, err := s.deps.Tokens.Parse(token)
	if err == nil {
		err = s.deps.Sessions.Check(c.UserContext(), p)
	}
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gathering", error="invalid_token"`)
		}
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

// requireAdmin admits admins only; it runs after requireAuth.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if p, ok := principal(c); !ok || p.Role != domain.RoleAdmin {
		return domain.Errorf(domain.CodeForbidden, "this needs the admin role")
	}
	return c.Next()
}

// auditContext is what every command records about the request that caused it.
func auditContext(c *fiber.Ctx) map[string]string {
	return map[string]string{"ip": c.IP(), "user_agent": truncate(c.Get(fiber.HeaderUserAgent), 256), "request_id": requestID(c)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// decodeCredentials accepts JSON or the OAuth2 password form (username = email).
func decodeCredentials(c *fiber.Ctx) (credentials, error) {
	var in credentials
	if isForm(c) {
		if gt := c.FormValue("grant_type"); gt != "" && gt != "password" {
			return in, invalid("grant_type", "must be password")
		}
		in.Email, in.Password = c.FormValue("username"), c.FormValue("password")
	} else if err := decodeJSON(c, &in); err != nil {
		return in, err
	}
	var v domain.Validation
	if strings.TrimSpace(in.Email) == "" {
		v.Add("email", "is required")
	}
	if in.Password == "" {
		v.Add("password", "is required")
	}
	return in, v.Err()
}

// isForm tells an OAuth2 form post from JSON. curl -d labels everything as a form, so a body
// that is a JSON object is read as JSON whatever its label.
func isForm(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) &&
		!bytes.HasPrefix(bytes.TrimSpace(c.Body()), []byte("{"))
}

type tokenResponse struct {
	AccessToken  string               `json:"access_token"`
	TokenType    string               `json:"token_type"`
	ExpiresIn    int                  `json:"expires_in"`
	RefreshToken string               `json:"refresh_token"`
	User         projections.UserView `json:"user"`
}

var errBadCredentials = &domain.Error{Code: domain.CodeUnauthorized, Message: "invalid email or password"}

func (s *Server) login(c *fiber.Ctx) error {
	in, err := decodeCredentials(c)
	if err != nil {
		return err
	}
	user, err := s.deps.Users.ByEmail(c.UserContext(), in.Email)
	if err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
		return err
	}
	known := err == nil
	// Always one full bcrypt comparison, so an unknown address takes as long as a wrong password.
	ok := auth.CheckPassword(user.PasswordHash, in.Password)
	switch {
	case !known:
		if err := s.recordAuth(c, domain.EventLoginFailed, domain.AuthEvent{Email: domain.NormalizeEmail(in.Email), Reason: "unknown_email"}, ""); err != nil {
			return err
		}
		return errBadCredentials
	case !ok:
		if err := s.recordAuth(c, domain.EventLoginFailed, domain.AuthEvent{UserID: user.ID, Reason: "wrong_password"}, user.Role); err != nil {
			return err
		}
		return errBadCredentials
	case !user.Active:
		if err := s.recordAuth(c, domain.EventLoginFailed, domain.AuthEvent{UserID: user.ID, Reason: "deactivated"}, user.Role); err != nil {
			return err
		}
		return domain.Errorf(domain.CodeForbidden, "the account is deactivated")
	}
	refresh, family, err := s.deps.Sessions.Begin(c.UserContext(), user.ID)
	if err != nil {
		return err
	}
	return s.issue(c, user, family, refresh, domain.EventLoginSucceeded, http.StatusOK)
}

// issue answers with a new access token in session family and records why it was issued.
func (s *Server) issue(c *fiber.Ctx, user projections.UserRecord, family, refresh, why string, status int) error {
	access, p, err := s.deps.Tokens.Issue(user.ID, user.Role, family)
	if err != nil {
		return err
	}
	if err := s.recordAuth(c, why, domain.AuthEvent{UserID: user.ID, FamilyID: family, TokenID: p.TokenID}, user.Role); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(tokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int(time.Until(p.ExpiresAt).Seconds()), RefreshToken: refresh, User: user.View()})
}

// recordAuth appends a security fact to the log. If it cannot be recorded the request fails:
// an unaudited login is not allowed to happen.
func (s *Server) recordAuth(c *fiber.Ctx, kind string, ev domain.AuthEvent, role domain.Role) error {
	actor := domain.Actor{ID: ev.UserID, Role: role}
	if p, ok := principal(c); ok {
		actor = p.Actor()
	}
	if actor.ID == "" {
		actor = domain.Actor{ID: "anonymous"}
	}
	env := commands.NewEnvelope(actor, requestID(c))
	env.Context = auditContext(c)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), 10*time.Second)
	defer cancel()
	_, err := s.deps.Bus.Send(ctx, &commands.RecordAuthEvent{Envelope: env, Event: ev, Kind: kind})
	return err
}

type refreshInput struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(c *fiber.Ctx) error {
	var in refreshInput
	if isForm(c) {
		in.RefreshToken = c.FormValue("refresh_token")
	} else if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.RefreshToken == "" {
		return invalid("refresh_token", "is required")
	}
	userID, family, next, err := s.deps.Sessions.Rotate(c.UserContext(), in.RefreshToken)
	var reused *auth.ErrRefreshReused
	if errors.As(err, &reused) {
		if rerr := s.recordAuth(c, domain.EventRefreshReuseDetected, domain.AuthEvent{UserID: reused.UserID, FamilyID: reused.FamilyID}, ""); rerr != nil {
			return rerr
		}
		return &domain.Error{Code: domain.CodeUnauthorized, Message: "this refresh token was already used; the session has been revoked, log in again"}
	}
	if err != nil {
		return err
	}
	user, err := s.deps.Users.ByID(c.UserContext(), userID)
	if err != nil {
		return err
	}
	if !user.Active {
		return &domain.Error{Code: domain.CodeUnauthorized, Message: "the account is deactivated"}
	}
	return s.issue(c, user, family, next, domain.EventTokenRefreshed, http.StatusOK)
}

func (s *Server) logout(c *fiber.Ctx) error {
	p, _ := principal(c)
	if err := s.deps.Sessions.Revoke(c.UserContext(), p); err != nil {
		return err
	}
	if err := s.recordAuth(c, domain.EventLoggedOut, domain.AuthEvent{UserID: p.UserID, FamilyID: p.Session, TokenID: p.TokenID}, p.Role); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) me(c *fiber.Ctx) error {
	p, _ := principal(c)
	user, err := s.deps.Users.ByID(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	return c.JSON(user.View())
}

type registration struct {
	Email    string      `json:"email"`
	Password string      `json:"password"`
	Name     string      `json:"name"`
	Role     domain.Role `json:"role"`
}

// register is open self-registration (when enabled) and, for admins, account creation.
func (s *Server) register(c *fiber.Ctx) error {
	if !s.deps.AllowRegistration {
		return domain.Errorf(domain.CodeForbidden, "self-registration is closed; ask an admin for an account")
	}
	return s.createUser(c, domain.Actor{ID: "anonymous", Role: domain.RoleMember}, "self")
}

func (s *Server) adminCreateUser(c *fiber.Ctx) error {
	p, _ := principal(c)
	return s.createUser(c, p.Actor(), "admin")
}

func (s *Server) createUser(c *fiber.Ctx, actor domain.Actor, via string) error {
	var in registration
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Role == "" || via == "self" {
		if via == "self" && in.Role != "" && in.Role != domain.RoleMember {
			return invalid("role", "self-registered accounts are members")
		}
		in.Role = domain.RoleMember
	}
	var v domain.Validation
	domain.ValidateEmail(&v, "email", strings.TrimSpace(in.Email))
	domain.ValidatePassword(&v, "password", in.Password, strings.TrimSpace(in.Email))
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	id := uuid.NewString()
	env := commands.NewEnvelope(actor, requestID(c))
	env.Context = auditContext(c)
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.RegisterUser{Envelope: env, UserID: id, Email: in.Email,
		Name: in.Name, Role: in.Role, PasswordHash: hash, Via: via})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "users", res); err != nil {
		return err
	}
	user, err := s.deps.Users.ByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/users/"+id)
	return c.Status(http.StatusCreated).JSON(user.View())
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword needs the current password, then ends every session of the account.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var in passwordChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	user, err := s.deps.Users.ByID(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	if !auth.CheckPassword(user.PasswordHash, in.CurrentPassword) {
		return &domain.Error{Code: domain.CodeForbidden, Message: "current_password: is wrong",
			Fields: []domain.FieldError{{Field: "current_password", Message: "is wrong"}}}
	}
	var v domain.Validation
	domain.ValidatePassword(&v, "new_password", in.NewPassword, user.Email)
	if in.NewPassword == in.CurrentPassword {
		v.Add("new_password", "must differ from the current password")
	}
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.NewPassword)
	if err != nil {
		return err
	}
	env := commands.NewEnvelope(p.Actor(), requestID(c))
	env.Context = auditContext(c)
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.ChangePassword{Envelope: env, UserID: p.UserID, PasswordHash: hash})
	if err != nil {
		return err
	}
	if err := s.deps.Sessions.RevokeUser(c.UserContext(), p.UserID); err != nil {
		return err
	}
	if err := s.waitFor(c, "users", res); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

type deactivation struct {
	Reason string `json:"reason"`
}

func (s *Server) deactivateUser(c *fiber.Ctx) error {
	var in deactivation
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	p, _ := principal(c)
	id := c.Params("id")
	if id == "me" {
		id = p.UserID
	}
	env := commands.NewEnvelope(p.Actor(), requestID(c))
	env.Context = auditContext(c)
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.DeactivateUser{Envelope: env, UserID: id, Reason: in.Reason})
	if err != nil {
		return err
	}
	if err := s.deps.Sessions.RevokeUser(c.UserContext(), id); err != nil {
		return err
	}
	if err := s.waitFor(c, "users", res); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

type roleChange struct {
	Role domain.Role `json:"role"`
}

func (s *Server) changeRole(c *fiber.Ctx) error {
	var in roleChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	env := commands.NewEnvelope(p.Actor(), requestID(c))
	env.Context = auditContext(c)
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.ChangeUserRole{Envelope: env, UserID: c.Params("id"), Role: in.Role})
	if err != nil {
		return err
	}
	if err := s.deps.Sessions.RevokeUser(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	if err := s.waitFor(c, "users", res); err != nil {
		return err
	}
	user, err := s.deps.Users.ByID(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(user.View())
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	var after *projections.AgentPageCursor
	if raw := c.Query("cursor"); raw != "" {
		if after, err = decodePageCursor(raw); err != nil {
			return invalid("cursor", "is not a cursor returned by this API")
		}
	}
	users, next, err := s.deps.Users.List(c.UserContext(), after, limit)
	if err != nil {
		return err
	}
	out := fiber.Map{"items": users}
	if next != nil {
		out["next_cursor"] = encodePageCursor(next)
	}
	return c.JSON(out)
}

func (s *Server) audit(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	f := projections.AuditFilter{UserID: c.Query("user"), Type: c.Query("type"), Limit: limit}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if raw := c.Query(name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				return invalid(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*dst = t
		}
	}
	entries, err := projections.ListAudit(c.UserContext(), s.deps.DB.SQL, f)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entries": entries})
}

// waitFor makes a write readable before its response goes out.
func (s *Server) waitFor(c *fiber.Ctx, projection string, res commands.Result) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), s.deps.ReadYourWrites)
	defer cancel()
	return s.deps.Waiter.WaitFor(ctx, projection, res.Cursor())
}
