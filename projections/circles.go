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

// Circles is the projection behind /circles.
type Circles struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewCircles returns the circles projection.
func NewCircles(events *domain.Registry) *Circles { return &Circles{q: dbq.New(), events: events} }

func (*Circles) Name() string     { return "circles" }
func (*Circles) Tables() []string { return []string{"circles", "circle_members"} }

func (c *Circles) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeCircle {
		return nil
	}
	id, err := uuid.Parse(e.StreamID[len("circle-"):])
	if err != nil {
		return err
	}
	ev, err := c.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	touch := func(status domain.CircleStatus) error {
		return c.q.TouchCircle(ctx, q, dbq.TouchCircleParams{ID: id, Status: sql.NullString{String: string(status), Valid: status != ""},
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	}
	switch ev := ev.(type) {
	case *domain.CircleCreated:
		return c.q.InsertCircle(ctx, q, dbq.InsertCircleParams{ID: id, Name: ev.Name, Description: ev.Description, Owner: ev.Owner,
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.CircleMemberAdded:
		agent, err := uuid.Parse(ev.Member.AgentID)
		if err != nil {
			return err
		}
		comps, err := json.Marshal(ev.Member.Competencies)
		if err != nil {
			return err
		}
		if err := c.q.UpsertCircleMember(ctx, q, dbq.UpsertCircleMemberParams{CircleID: id, AgentID: agent, Role: string(ev.Member.Role),
			Competencies: comps, At: e.OccurredAt}); err != nil {
			return err
		}
		return touch("")
	case *domain.CircleMemberRemoved:
		agent, err := uuid.Parse(ev.AgentID)
		if err != nil {
			return err
		}
		if err := c.q.DeleteCircleMember(ctx, q, dbq.DeleteCircleMemberParams{CircleID: id, AgentID: agent}); err != nil {
			return err
		}
		return touch("")
	case *domain.CircleStarted:
		return touch(domain.CircleStatusRunning)
	case *domain.CircleStopped:
		return touch(domain.CircleStatusStopped)
	case *domain.CircleArchived:
		return touch(domain.CircleStatusArchived)
	}
	return nil
}

func (c *Circles) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := c.q.CirclesChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// CircleMemberView is a member with its agent's details.
type CircleMemberView struct {
	AgentID      string    `json:"agent_id"`
	Role         string    `json:"role"`
	Competencies []string  `json:"competencies"`
	JoinedAt     time.Time `json:"joined_at"`
	AgentName    string    `json:"agent_name"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	AgentRole    string    `json:"agent_role"`
	AgentExists  bool      `json:"agent_exists"`
}

// CircleView is a circle as the API shows it.
type CircleView struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Owner       string             `json:"owner"`
	Status      string             `json:"status"`
	Version     int64              `json:"version"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	Members     []CircleMemberView `json:"members,omitempty"`
}

// CircleQueries reads the circles read model.
type CircleQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewCircleQueries returns circle queries on db.
func NewCircleQueries(db *sql.DB) *CircleQueries { return &CircleQueries{db: db, q: dbq.New()} }

func circleView(r dbq.Circle) CircleView {
	return CircleView{ID: r.ID.String(), Name: r.Name, Description: r.Description, Owner: r.Owner, Status: r.Status,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// ByName returns a circle with its members and their agents.
func (c *CircleQueries) ByName(ctx context.Context, name string) (CircleView, error) {
	r, err := c.q.GetCircleByName(ctx, c.db, name)
	if errors.Is(err, sql.ErrNoRows) {
		return CircleView{}, domain.Errorf(domain.CodeNotFound, "circle %q not found", name)
	}
	if err != nil {
		return CircleView{}, err
	}
	v := circleView(dbq.Circle(r))
	rows, err := c.q.CircleMembersWithAgents(ctx, c.db, r.ID)
	if err != nil {
		return v, err
	}
	v.Members = make([]CircleMemberView, 0, len(rows))
	for _, m := range rows {
		mv := CircleMemberView{AgentID: m.AgentID.String(), Role: m.Role, JoinedAt: m.JoinedAt.UTC(), AgentName: m.AgentName,
			Provider: m.Provider, Model: m.Model, AgentRole: m.AgentRole, AgentExists: m.AgentExists}
		if err := json.Unmarshal(m.Competencies, &mv.Competencies); err != nil {
			return v, err
		}
		v.Members = append(v.Members, mv)
	}
	return v, nil
}

// List returns circles by name; owner and status filter when set.
func (c *CircleQueries) List(ctx context.Context, owner, status string, limit int) ([]CircleView, error) {
	rows, err := c.q.ListCircles(ctx, c.db, dbq.ListCirclesParams{Owner: nullString(owner), Status: nullString(status), MaxRows: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]CircleView, 0, len(rows))
	for _, r := range rows {
		out = append(out, circleView(dbq.Circle(r)))
	}
	return out, nil
}
