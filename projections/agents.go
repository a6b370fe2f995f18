package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Agents is the projection behind GET /agents.
type Agents struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewAgents returns the agents projection.
func NewAgents(events *domain.Registry) *Agents { return &Agents{q: dbq.New(), events: events} }

func (*Agents) Name() string     { return "agents" }
func (*Agents) Tables() []string { return []string{"agents"} }

func (a *Agents) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeAgent {
		return nil
	}
	ev, err := a.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	// Rows carry the stream version, and writes only move it forward: even a replayed event
	// could not move a row back in time.
	switch ev := ev.(type) {
	case *domain.AgentCreated:
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return fmt.Errorf("agent id %q: %w", ev.ID, err)
		}
		personality, tools, err := agentJSON(ev.Personality, ev.Tools)
		if err != nil {
			return err
		}
		return a.q.InsertAgent(ctx, q, dbq.InsertAgentParams{ID: id, Name: ev.Name, Role: ev.Role, Provider: string(ev.Provider),
			Model: ev.Model, Personality: personality, SystemPrompt: ev.SystemPrompt, Tools: tools, Version: e.Version,
			CreatedAt: e.OccurredAt, LastPosition: e.Position, CreatedBy: ev.CreatedBy})
	case *domain.AgentUpdated:
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return err
		}
		personality, tools, err := agentJSON(ev.Personality, ev.Tools)
		if err != nil {
			return err
		}
		_, err = a.q.ReplaceAgent(ctx, q, dbq.ReplaceAgentParams{ID: id, Name: ev.Name, Role: ev.Role, Provider: string(ev.Provider),
			Model: ev.Model, Personality: personality, SystemPrompt: ev.SystemPrompt, Tools: tools, Version: e.Version,
			UpdatedAt: e.OccurredAt, LastPosition: e.Position})
		return err
	case *domain.AgentDeleted:
		id, err := uuid.Parse(ev.ID)
		if err != nil {
			return err
		}
		_, err = a.q.DeleteAgent(ctx, q, id)
		return err
	}
	return nil
}

func agentJSON(p domain.Personality, tools []string) ([]byte, []byte, error) {
	if p.Traits == nil {
		p.Traits = []string{}
	}
	if tools == nil {
		tools = []string{}
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	tj, err := json.Marshal(tools)
	return pj, tj, err
}

func (a *Agents) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := a.q.AgentsChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// AgentView is an agent as the API shows it.
type AgentView struct {
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	Role         string             `json:"role"`
	Provider     string             `json:"provider"`
	Model        string             `json:"model"`
	Personality  domain.Personality `json:"personality"`
	SystemPrompt string             `json:"system_prompt"`
	Tools        []string           `json:"tools"`
	Version      int64              `json:"version"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	Position     int64              `json:"position"`
	CreatedBy    string             `json:"created_by"`
}

func agentView(r dbq.Agent) (AgentView, error) {
	v := AgentView{ID: r.ID.String(), Name: r.Name, Role: r.Role, Provider: r.Provider, Model: r.Model,
		SystemPrompt: r.SystemPrompt, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Position: r.LastPosition, CreatedBy: r.CreatedBy}
	if err := json.Unmarshal(r.Personality, &v.Personality); err != nil {
		return v, err
	}
	if err := json.Unmarshal(r.Tools, &v.Tools); err != nil {
		return v, err
	}
	return v, nil
}

// AgentQueries reads the agents read model.
type AgentQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewAgentQueries returns the agent queries on db.
func NewAgentQueries(db *sql.DB) *AgentQueries { return &AgentQueries{db: db, q: dbq.New()} }

// Get returns one agent or a not-found error.
func (a *AgentQueries) Get(ctx context.Context, id string) (AgentView, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return AgentView{}, domain.Errorf(domain.CodeNotFound, "agent %s not found", id)
	}
	r, err := a.q.GetAgent(ctx, a.db, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return AgentView{}, domain.Errorf(domain.CodeNotFound, "agent %s not found", id)
	}
	if err != nil {
		return AgentView{}, err
	}
	return agentView(dbq.Agent(r))
}

// AgentFilter selects agents to list.
type AgentFilter struct {
	Provider   string
	Role       string
	NamePrefix string
	// Owner, when set, lists only the agents of that user.
	Owner string
	After *AgentPageCursor
	Limit int
}

// AgentPageCursor is where a page of agents ends.
type AgentPageCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// List returns one page of agents in creation order and the cursor of the next page, if any.
func (a *AgentQueries) List(ctx context.Context, f AgentFilter) ([]AgentView, *AgentPageCursor, error) {
	after := AgentPageCursor{CreatedAt: time.Unix(0, 0).UTC()}
	if f.After != nil {
		after = *f.After
	}
	rows, err := a.q.ListAgents(ctx, a.db, dbq.ListAgentsParams{Provider: nullString(f.Provider), Role: nullString(f.Role),
		NamePrefix: nullString(f.NamePrefix), Owner: nullString(f.Owner), AfterCreated: after.CreatedAt, AfterID: after.ID, MaxRows: int32(f.Limit + 1)})
	if err != nil {
		return nil, nil, err
	}
	var next *AgentPageCursor
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		next = &AgentPageCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	out := make([]AgentView, 0, len(rows))
	for _, r := range rows {
		v, err := agentView(dbq.Agent(r))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, v)
	}
	return out, next, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
