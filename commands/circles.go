package commands

import (
	"context"
	"database/sql"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
)

type CreateCircle struct {
	Envelope
	CircleID    string `json:"circle_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type AddCircleMember struct {
	Envelope
	CircleID string        `json:"circle_id"`
	Member   domain.Member `json:"member"`
}

type RemoveCircleMember struct {
	Envelope
	CircleID string `json:"circle_id"`
	AgentID  string `json:"agent_id"`
}

// ChangeCircleStatus starts, stops or archives a circle.
type ChangeCircleStatus struct {
	Envelope
	CircleID string `json:"circle_id"`
	Action   string `json:"action"` // start, stop, archive
	Reason   string `json:"reason,omitempty"`
}

// Circles holds the circle use cases.
type Circles struct{ repo *Repository }

// RegisterCircles adds the circle command handlers to the bus.
func RegisterCircles(b *Bus, repo *Repository) *Circles {
	c := &Circles{repo: repo}
	handle(b, "circles.create", c.Create)
	handle(b, "circles.add_member", c.AddMember)
	handle(b, "circles.remove_member", c.RemoveMember)
	handle(b, "circles.change_status", c.ChangeStatus)
	return c
}

func newCircle() *domain.Circle { return &domain.Circle{} }

func circleChange(id string, env Envelope) change {
	return change{streamID: domain.CircleStreamID(id), streamType: domain.StreamTypeCircle, env: env}
}

// ErrCircleNameTaken answers a second circle with the same name.
var ErrCircleNameTaken = &domain.Error{Code: domain.CodeConflict, Message: "name: a circle with this name exists",
	Fields: []domain.FieldError{{Field: "name", Message: "a circle with this name exists"}}}

func (c *Circles) Create(ctx context.Context, cmd *CreateCircle) (Result, error) {
	ch := circleChange(cmd.CircleID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, appended []eventlog.Event) error {
		var created domain.CircleCreated
		if err := jsonUnmarshal(appended[0].Payload, &created); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO circle_names (name, circle_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, created.Name, cmd.CircleID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrCircleNameTaken
		}
		return nil
	}
	return execute(ctx, c.repo, ch, newCircle, func(agg *domain.Circle) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.CircleID, cmd.Name, cmd.Description)
	})
}

func (c *Circles) AddMember(ctx context.Context, cmd *AddCircleMember) (Result, error) {
	return execute(ctx, c.repo, circleChange(cmd.CircleID, cmd.Envelope), newCircle, func(agg *domain.Circle) ([]domain.Event, error) {
		return agg.AddMember(cmd.actor(), cmd.Member)
	})
}

func (c *Circles) RemoveMember(ctx context.Context, cmd *RemoveCircleMember) (Result, error) {
	return execute(ctx, c.repo, circleChange(cmd.CircleID, cmd.Envelope), newCircle, func(agg *domain.Circle) ([]domain.Event, error) {
		return agg.RemoveMember(cmd.actor(), cmd.AgentID)
	})
}

func (c *Circles) ChangeStatus(ctx context.Context, cmd *ChangeCircleStatus) (Result, error) {
	return execute(ctx, c.repo, circleChange(cmd.CircleID, cmd.Envelope), newCircle, func(agg *domain.Circle) ([]domain.Event, error) {
		switch cmd.Action {
		case "start":
			return agg.Start(cmd.actor())
		case "stop":
			return agg.Stop(cmd.actor(), cmd.Reason)
		case "archive":
			return agg.Archive(cmd.actor())
		}
		return nil, domain.Errorf(domain.CodeInvalid, "unknown circle action %q", cmd.Action)
	})
}
