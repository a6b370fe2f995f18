package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// CircleTasks is the projection behind /circles/{name}/tasks, escalations and conflicts, and
// the workloads and approval records that routing weighs.
type CircleTasks struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewCircleTasks returns the circle tasks projection.
func NewCircleTasks(events *domain.Registry) *CircleTasks {
	return &CircleTasks{q: dbq.New(), events: events}
}

func (*CircleTasks) Name() string { return "circle_tasks" }
func (*CircleTasks) Tables() []string {
	return []string{"circle_tasks", "circle_agent_reviews", "circle_escalations", "circle_conflicts"}
}

func nullUUID(s string) uuid.NullUUID {
	u, err := uuid.Parse(s)
	return uuid.NullUUID{UUID: u, Valid: err == nil}
}

func (p *CircleTasks) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeCircleTask {
		return nil
	}
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypeCircleTask+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	if created, ok := ev.(*domain.CircleTaskCreated); ok {
		comps, err := json.Marshal(created.Spec.RequiredCompetencies)
		if err != nil {
			return err
		}
		circle, err := uuid.Parse(created.Spec.CircleID)
		if err != nil {
			return err
		}
		return p.q.InsertCircleTask(ctx, q, dbq.InsertCircleTaskParams{ID: id, CircleID: circle, ProjectID: nullUUID(created.Spec.ProjectID),
			Title: created.Spec.Title, Description: created.Spec.Description, RequiredCompetencies: comps,
			Priority: int32(created.Spec.Priority), RequiresReview: created.Spec.RequiresReview, Owner: created.Owner,
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	}
	row, err := p.q.GetCircleTask(ctx, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // every task stream starts with its creation; nothing to update
	}
	if err != nil {
		return err
	}
	if row.Version >= e.Version {
		return nil // redelivered
	}
	author := func(approved, changes, rejected int32) error {
		if !row.AssigneeID.Valid {
			return nil
		}
		return p.q.CountAuthorReview(ctx, q, dbq.CountAuthorReviewParams{AgentID: row.AssigneeID.UUID, Approved: approved, ChangesRequested: changes, Rejected: rejected})
	}
	switch ev := ev.(type) {
	case *domain.CircleTaskOffered:
		row.Status, row.OfferedTo = string(domain.CircleTaskStatusOffered), nullUUID(ev.AgentID)
	case *domain.CircleTaskUnrouted, *domain.CircleTaskRefused:
		row.Status, row.OfferedTo = string(domain.CircleTaskStatusPending), uuid.NullUUID{}
	case *domain.CircleTaskClaimed:
		row.Status, row.AssigneeID, row.OfferedTo = string(domain.CircleTaskStatusInProgress), nullUUID(ev.AgentID), uuid.NullUUID{}
	case *domain.CircleTaskSubmitted:
		row.Status, row.Result = string(domain.CircleTaskStatusInReview), ev.Result
		row.ReviewerID = sql.NullString{String: ev.ReviewerID, Valid: ev.ReviewerID != ""}
	case *domain.CircleTaskApproved:
		row.ReviewerID = sql.NullString{String: ev.ReviewerID, Valid: true}
		if err := author(1, 0, 0); err != nil {
			return err
		}
	case *domain.CircleTaskChangesRequested:
		row.Status, row.Iteration = string(domain.CircleTaskStatusInProgress), int32(ev.Iteration)
		if err := author(0, 1, 0); err != nil {
			return err
		}
	case *domain.CircleTaskRejected:
		row.Status, row.ReviewerID = string(domain.CircleTaskStatusBlocked), sql.NullString{String: ev.ReviewerID, Valid: true}
		if err := author(0, 0, 1); err != nil {
			return err
		}
	case *domain.CircleTaskCompleted:
		row.Status = string(domain.CircleTaskStatusCompleted)
	case *domain.CircleTaskCancelled:
		row.Status = string(domain.CircleTaskStatusCancelled)
	case *domain.CircleEscalationRaised:
		if err := p.q.InsertCircleEscalation(ctx, q, dbq.InsertCircleEscalationParams{Position: e.Position, CircleID: row.CircleID, TaskID: id,
			Severity: ev.Severity, Reason: ev.Reason, Detail: ev.Detail, AgentID: ev.AgentID, At: e.OccurredAt}); err != nil {
			return err
		}
	case *domain.CircleFileConflict:
		if err := p.q.InsertCircleConflict(ctx, q, dbq.InsertCircleConflictParams{Position: e.Position, CircleID: row.CircleID, TaskID: id,
			Kind: "file_collision", AgentID: ev.AgentID, Path: ev.Path, HolderTaskID: ev.HolderTaskID, HolderAgentID: ev.HolderAgentID,
			At: e.OccurredAt}); err != nil {
			return err
		}
	}
	return p.q.UpdateCircleTask(ctx, q, dbq.UpdateCircleTaskParams{ID: id, Status: row.Status, OfferedTo: row.OfferedTo,
		AssigneeID: row.AssigneeID, ReviewerID: row.ReviewerID, Iteration: row.Iteration, Result: row.Result,
		Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
}

func (p *CircleTasks) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.CircleTasksChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// CircleTaskView is a task as the API shows it.
type CircleTaskView struct {
	ID                   string    `json:"id"`
	CircleID             string    `json:"circle_id"`
	ProjectID            string    `json:"project_id,omitempty"`
	Title                string    `json:"title"`
	Description          string    `json:"description"`
	RequiredCompetencies []string  `json:"required_competencies"`
	Priority             int       `json:"priority"`
	RequiresReview       bool      `json:"requires_review"`
	Status               string    `json:"status"`
	OfferedTo            string    `json:"offered_to,omitempty"`
	AssigneeID           string    `json:"assignee_id,omitempty"`
	ReviewerID           string    `json:"reviewer_id,omitempty"`
	Iteration            int       `json:"iteration"`
	Result               string    `json:"result"`
	Owner                string    `json:"owner"`
	Version              int64     `json:"version"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
}

func circleTaskView(r dbq.CircleTask) (CircleTaskView, error) {
	v := CircleTaskView{ID: r.ID.String(), CircleID: r.CircleID.String(), Title: r.Title, Description: r.Description,
		Priority: int(r.Priority), RequiresReview: r.RequiresReview, Status: r.Status, ReviewerID: r.ReviewerID.String,
		Iteration: int(r.Iteration), Result: r.Result, Owner: r.Owner, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, f := range []struct {
		dst *string
		src uuid.NullUUID
	}{{&v.ProjectID, r.ProjectID}, {&v.OfferedTo, r.OfferedTo}, {&v.AssigneeID, r.AssigneeID}} {
		if f.src.Valid {
			*f.dst = f.src.UUID.String()
		}
	}
	return v, json.Unmarshal(r.RequiredCompetencies, &v.RequiredCompetencies)
}

// EscalationView is an escalation raised to people.
type EscalationView struct {
	Position int64     `json:"position"`
	TaskID   string    `json:"task_id"`
	Severity string    `json:"severity"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail"`
	AgentID  string    `json:"agent_id"`
	RaisedAt time.Time `json:"raised_at"`
}

// ConflictView is a recorded conflict between agents.
type ConflictView struct {
	Position      int64     `json:"position"`
	TaskID        string    `json:"task_id"`
	Kind          string    `json:"kind"`
	AgentID       string    `json:"agent_id"`
	Path          string    `json:"path"`
	HolderTaskID  string    `json:"holder_task_id"`
	HolderAgentID string    `json:"holder_agent_id"`
	DetectedAt    time.Time `json:"detected_at"`
}

// CircleTaskQueries reads the circle tasks read model.
type CircleTaskQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewCircleTaskQueries returns circle task queries on db.
func NewCircleTaskQueries(db *sql.DB) *CircleTaskQueries {
	return &CircleTaskQueries{db: db, q: dbq.New()}
}

// ByID returns one task.
func (c *CircleTaskQueries) ByID(ctx context.Context, id string) (CircleTaskView, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return CircleTaskView{}, domain.Errorf(domain.CodeNotFound, "task %s not found", id)
	}
	r, err := c.q.GetCircleTask(ctx, c.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return CircleTaskView{}, domain.Errorf(domain.CodeNotFound, "task %s not found", id)
	}
	if err != nil {
		return CircleTaskView{}, err
	}
	return circleTaskView(r)
}

// TaskFilter narrows a task list; empty fields do not filter.
type TaskFilter struct {
	CircleID, ProjectID, Status, AgentID string
	Limit                                int
}

// List returns tasks, most urgent first.
func (c *CircleTaskQueries) List(ctx context.Context, f TaskFilter) ([]CircleTaskView, error) {
	rows, err := c.q.ListCircleTasks(ctx, c.db, dbq.ListCircleTasksParams{CircleID: nullUUID(f.CircleID), ProjectID: nullUUID(f.ProjectID),
		Status: nullString(f.Status), AgentID: nullUUID(f.AgentID), MaxRows: int32(f.Limit)})
	if err != nil {
		return nil, err
	}
	out := make([]CircleTaskView, 0, len(rows))
	for _, r := range rows {
		v, err := circleTaskView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Escalations returns a circle's escalations, newest first.
func (c *CircleTaskQueries) Escalations(ctx context.Context, circleID string, limit int) ([]EscalationView, error) {
	rows, err := c.q.ListCircleEscalations(ctx, c.db, dbq.ListCircleEscalationsParams{CircleID: nullUUID(circleID).UUID, MaxRows: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]EscalationView, 0, len(rows))
	for _, r := range rows {
		out = append(out, EscalationView{Position: r.Position, TaskID: r.TaskID.String(), Severity: r.Severity, Reason: r.Reason,
			Detail: r.Detail, AgentID: r.AgentID, RaisedAt: r.RaisedAt.UTC()})
	}
	return out, nil
}

// Conflicts returns a circle's conflicts, newest first.
func (c *CircleTaskQueries) Conflicts(ctx context.Context, circleID string, limit int) ([]ConflictView, error) {
	rows, err := c.q.ListCircleConflicts(ctx, c.db, dbq.ListCircleConflictsParams{CircleID: nullUUID(circleID).UUID, MaxRows: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]ConflictView, 0, len(rows))
	for _, r := range rows {
		out = append(out, ConflictView{Position: r.Position, TaskID: r.TaskID.String(), Kind: r.Kind, AgentID: r.AgentID, Path: r.Path,
			HolderTaskID: r.HolderTaskID, HolderAgentID: r.HolderAgentID, DetectedAt: r.DetectedAt.UTC()})
	}
	return out, nil
}
