package httpapi

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/sql/dbq"
)

type personalityInput struct {
	Traits             *[]string `json:"traits"`
	CommunicationStyle *string   `json:"communication_style"`
	Temperature        *float64  `json:"temperature"`
	MaxTokens          *int      `json:"max_tokens"`
}

// agentInput is the body of POST and PATCH /agents; absent fields are nil.
type agentInput struct {
	// Persona starts the agent from a starter persona; the other fields override it.
	Persona      *string           `json:"persona"`
	Name         *string           `json:"name"`
	Role         *string           `json:"role"`
	Provider     *domain.Provider  `json:"provider"`
	Model        *string           `json:"model"`
	Personality  *personalityInput `json:"personality"`
	SystemPrompt *string           `json:"system_prompt"`
	Tools        *[]string         `json:"tools"`
}

func (in agentInput) spec() (domain.AgentSpec, error) {
	s := domain.AgentSpec{Personality: domain.Personality{Temperature: domain.DefaultTemperature, MaxTokens: domain.DefaultMaxTokens}}
	if in.Persona != nil {
		p, ok := domain.PersonaByID(*in.Persona)
		if !ok {
			return s, invalid("persona", "unknown persona "+strconv.Quote(*in.Persona)+"; see GET /personas")
		}
		s = p.Spec
		s.Name = p.DisplayName
	}
	setFrom(&s.Name, in.Name)
	setFrom(&s.Role, in.Role)
	setFrom(&s.Provider, in.Provider)
	setFrom(&s.Model, in.Model)
	setFrom(&s.SystemPrompt, in.SystemPrompt)
	setFrom(&s.Tools, in.Tools)
	if p := in.Personality; p != nil {
		setFrom(&s.Personality.Traits, p.Traits)
		setFrom(&s.Personality.CommunicationStyle, p.CommunicationStyle)
		setFrom(&s.Personality.Temperature, p.Temperature)
		setFrom(&s.Personality.MaxTokens, p.MaxTokens)
	}
	return s, nil
}

func (in agentInput) patch() domain.AgentPatch {
	p := domain.AgentPatch{Name: in.Name, Role: in.Role, Provider: in.Provider, Model: in.Model,
		SystemPrompt: in.SystemPrompt, Tools: in.Tools}
	if pi := in.Personality; pi != nil {
		p.Traits, p.Style, p.Temperature, p.MaxTokens = pi.Traits, pi.CommunicationStyle, pi.Temperature, pi.MaxTokens
	}
	return p
}

func setFrom[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// envelope starts a command on behalf of the request's caller; the request id correlates the
// command's events with the request, and the audit context says where it came from.
func envelope(c *fiber.Ctx) commands.Envelope {
	p, _ := principal(c)
	env := commands.NewEnvelope(p.Actor(), requestID(c))
	env.Context = auditContext(c)
	return env
}

func (s *Server) createAgent(c *fiber.Ctx) error {
	var in agentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	spec, err := in.spec()
	if err != nil {
		return err
	}
	id := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateAgent{Envelope: env, AgentID: id, Spec: spec})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithAgent(c, env, res, http.StatusCreated)
}

func (s *Server) updateAgent(c *fiber.Ctx) error {
	var in agentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Persona != nil {
		return invalid("persona", "can only be given when creating an agent")
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.UpdateAgent{Envelope: env, AgentID: c.Params("id"), Patch: in.patch()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithAgent(c, env, res, http.StatusOK)
}

func (s *Server) deleteAgent(c *fiber.Ctx) error {
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.DeleteAgent{Envelope: env, AgentID: c.Params("id")})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	if err := s.waitForAgents(c, res); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return s.storeResponse(c, env.IdempotencyKey, nil)
}

// respondWithAgent answers a write with the agent as the read model now shows it: the write
// waits (bounded) for the projection to pass its own event, so the client can read it back
// straight away without sleeping.
func (s *Server) respondWithAgent(c *fiber.Ctx, env commands.Envelope, res commands.Result, status int) error {
	if err := s.waitForAgents(c, res); err != nil {
		return err
	}
	id := strings.TrimPrefix(res.StreamID, "agent-")
	view, err := s.deps.Agents.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	body, err := json.Marshal(view)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(view.Version))
	if status == http.StatusCreated {
		c.Set(fiber.HeaderLocation, "/agents/"+id)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Status(status)
	if err := s.storeResponse(c, env.IdempotencyKey, body); err != nil {
		return err
	}
	return c.Send(body)
}

func (s *Server) waitForAgents(c *fiber.Ctx, res commands.Result) error {
	return s.waitFor(c, "agents", res)
}

// visibleAgent returns an agent the caller may see: its owner's or, for an admin, any.
func (s *Server) visibleAgent(c *fiber.Ctx, id string) (projections.AgentView, error) {
	view, err := s.deps.Agents.Get(c.UserContext(), id)
	if err != nil {
		return view, err
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && (view.CreatedBy == "" || view.CreatedBy != p.UserID) {
		return view, domain.Errorf(domain.CodeForbidden, "you do not own this agent")
	}
	return view, nil
}

func (s *Server) getAgent(c *fiber.Ctx) error {
	view, err := s.visibleAgent(c, c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(view.Version))
	return c.JSON(view)
}

type agentPage struct {
	Items      []projections.AgentView `json:"items"`
	NextCursor string                  `json:"next_cursor,omitempty"`
}

func (s *Server) listAgents(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	f := projections.AgentFilter{Provider: c.Query("provider"), Role: c.Query("role"), NamePrefix: c.Query("name"), Limit: limit}
	// Members list their own agents; admins everything, or one user's with ?owner=.
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		f.Owner = p.UserID
	} else {
		f.Owner = c.Query("owner")
	}
	if f.Provider != "" && !knownProvider(f.Provider) {
		return invalid("provider", "unknown provider "+strconv.Quote(f.Provider))
	}
	if raw := c.Query("cursor"); raw != "" {
		cur, err := decodePageCursor(raw)
		if err != nil {
			return invalid("cursor", "is not a cursor returned by this API")
		}
		f.After = cur
	}
	items, next, err := s.deps.Agents.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := agentPage{Items: items}
	if next != nil {
		page.NextCursor = encodePageCursor(next)
	}
	return c.JSON(page)
}

func knownProvider(p string) bool {
	for _, known := range domain.Providers {
		if string(known) == p {
			return true
		}
	}
	return false
}

func encodePageCursor(c *projections.AgentPageCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

func decodePageCursor(s string) (*projections.AgentPageCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil, errors.New("malformed")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, err
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, err
	}
	return &projections.AgentPageCursor{CreatedAt: t, ID: uid}, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// withIfMatch pins the command to the version the client last saw.
func withIfMatch(c *fiber.Ctx, env *commands.Envelope) error {
	raw := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if raw == "" || raw == "*" {
		return nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(raw, "W/"), `"`), 10, 64)
	if err != nil || v < 1 {
		return invalid("If-Match", "must be a version returned in ETag, such as \"3\"")
	}
	env.ExpectedVersion = &v
	return nil
}

// withIdempotency scopes the client's key to its caller and fingerprints the request, so the
// same key with another body is refused rather than answered with the wrong response.
func withIdempotency(c *fiber.Ctx, env *commands.Envelope) error {
	key := c.Get("Idempotency-Key")
	if key == "" {
		return nil
	}
	if len(key) > 255 {
		return invalid("Idempotency-Key", "must be at most 255 characters")
	}
	h := sha256.New()
	h.Write([]byte(c.Method() + " " + c.Path() + "\n" + c.Get(fiber.HeaderIfMatch) + "\n"))
	h.Write(c.Body())
	env.IdempotencyKey = env.Actor + ":" + key
	env.Fingerprint = hex.EncodeToString(h.Sum(nil))
	return nil
}

func (s *Server) storeResponse(c *fiber.Ctx, key string, body []byte) error {
	if key == "" {
		return nil
	}
	return dbq.New().StoreIdempotentResponse(c.UserContext(), s.deps.DB.SQL, dbq.StoreIdempotentResponseParams{
		Key: key, ResponseStatus: sql.NullInt32{Int32: int32(c.Response().StatusCode()), Valid: true}, ResponseBody: body})
}

// replayResponse answers a repeated request with the response of the original. If the
// original is still being answered, it waits briefly for that response to be stored.
func (s *Server) replayResponse(c *fiber.Ctx, key string, res commands.Result) error {
	q := dbq.New()
	deadline := time.Now().Add(s.deps.ReadYourWrites)
	for {
		row, err := q.GetIdempotencyKey(c.UserContext(), s.deps.DB.SQL, key)
		if err != nil {
			return err
		}
		if row.ResponseStatus.Valid {
			c.Set("Idempotent-Replayed", "true")
			c.Status(int(row.ResponseStatus.Int32))
			if len(row.ResponseBody) == 0 {
				return nil
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(row.ResponseBody)
		}
		if time.Now().After(deadline) {
			return &domain.Error{Code: domain.CodeConflict, Message: "the original request with this Idempotency-Key is still in progress"}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func intQuery(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < lo || v > hi {
		return 0, invalid(name, "must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return v, nil
}

func int64Query(c *fiber.Ctx, name string) (int64, error) {
	v, err := strconv.ParseInt(c.Query(name), 10, 64)
	if err != nil || v < 0 {
		return 0, invalid(name, "must be a position (a whole number, 0 or more)")
	}
	return v, nil
}

func (s *Server) personas(c *fiber.Ctx) error { return c.JSON(fiber.Map{"personas": domain.Personas}) }

// catalog lists providers and models with their limits and prices; keys are never part of it.
// catalog lists the model providers and the tools an agent can be given, for forms.
func (s *Server) catalog(c *fiber.Ctx) error {
	type toolInfo struct {
		llm.ToolSpec
		Permissions []string `json:"permissions"`
	}
	list := []toolInfo{}
	if s.deps.Tools != nil {
		for _, spec := range s.deps.Tools.Specs(s.deps.Tools.Names()) {
			perms := s.deps.Tools.Permissions(spec.Name)
			if perms == nil {
				perms = []string{}
			}
			list = append(list, toolInfo{ToolSpec: spec, Permissions: perms})
		}
	}
	return c.JSON(fiber.Map{"providers": llm.Catalog(), "tools": list})
}
