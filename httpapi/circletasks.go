package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/projections"
)

type circleTaskInput struct {
	Title                string   `json:"title"`
	Description          string   `json:"description"`
	RequiredCompetencies []string `json:"required_competencies"`
	Priority             int      `json:"priority"`
	// RequiresReview defaults to true: work is reviewed unless the person says otherwise.
	RequiresReview *bool  `json:"requires_review"`
	ProjectID      string `json:"project_id"`
}

// circleTaskStepInput is the body of every step; each step reads the fields it needs.
type circleTaskStepInput struct {
	AgentID    string                `json:"agent_id"`
	ReviewerID string                `json:"reviewer_id"`
	Result     string                `json:"result"`
	Reason     string                `json:"reason"`
	Decision   domain.ReviewDecision `json:"decision"`
	Comments   string                `json:"comments"`
	Path       string                `json:"path"`
}

// taskHistoryEntry is one step of a task's life, read from its stream.
type taskHistoryEntry struct {
	Type       string          `json:"type"`
	Position   int64           `json:"position"`
	Version    int64           `json:"version"`
	Actor      string          `json:"actor"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func (s *Server) createCircleTask(c *fiber.Ctx) error {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	var in circleTaskInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	spec := domain.CircleTaskSpec{CircleID: circle.ID, Title: in.Title, Description: in.Description,
		RequiredCompetencies: in.RequiredCompetencies, Priority: in.Priority, RequiresReview: in.RequiresReview == nil || *in.RequiresReview}
	if in.ProjectID != "" {
		if err := s.checkTaskProject(c, in.ProjectID, circle.ID); err != nil {
			return err
		}
		spec.ProjectID = in.ProjectID
	}
	id := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateCircleTask{Envelope: envelope(c), TaskID: id, Spec: spec})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "circle_tasks", res); err != nil {
		return err
	}
	v, err := s.deps.CircleTasks.ByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/circles/"+circle.Name+"/tasks/"+id)
	return c.Status(http.StatusCreated).JSON(v)
}

// checkTaskProject accepts a project the task may belong to: one linked to the task's circle.
func (s *Server) checkTaskProject(c *fiber.Ctx, projectID, circleID string) error {
	p, err := s.deps.Projects.ByID(c.UserContext(), projectID)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return invalid("project_id", "no such project")
	}
	if err != nil {
		return err
	}
	if pr, _ := principal(c); !pr.Actor().IsAdmin() && p.Owner != pr.UserID {
		return invalid("project_id", "the project is not yours")
	}
	for _, linked := range p.Circles {
		if linked.CircleID == circleID {
			return nil
		}
	}
	return invalid("project_id", "the project is not linked to this circle")
}

func (s *Server) listCircleTasks(c *fiber.Ctx) error {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	f := projections.TaskFilter{CircleID: circle.ID, Status: c.Query("status"), AgentID: c.Query("agent_id"), Limit: limit}
	if f.AgentID != "" {
		if _, err := uuid.Parse(f.AgentID); err != nil {
			return invalid("agent_id", "must be an agent id")
		}
	}
	items, err := s.deps.CircleTasks.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

// circleTask returns a task of the circle in the URL, which the caller must be allowed to see.
func (s *Server) circleTask(c *fiber.Ctx) (projections.CircleView, projections.CircleTaskView, error) {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return circle, projections.CircleTaskView{}, err
	}
	t, err := s.deps.CircleTasks.ByID(c.UserContext(), c.Params("task"))
	if err == nil && t.CircleID != circle.ID {
		err = domain.Errorf(domain.CodeNotFound, "task %s not found in circle %s", c.Params("task"), circle.Name)
	}
	return circle, t, err
}

func (s *Server) getCircleTask(c *fiber.Ctx) error {
	_, t, err := s.circleTask(c)
	if err != nil {
		return err
	}
	_, events, err := s.deps.Repo.LoadCircleTask(c.UserContext(), t.ID)
	if err != nil {
		return err
	}
	history := make([]taskHistoryEntry, 0, len(events))
	for _, e := range events {
		history = append(history, taskHistoryEntry{Type: e.Type, Position: e.Position, Version: e.Version, Actor: e.Metadata.Actor,
			OccurredAt: e.OccurredAt.UTC(), Data: json.RawMessage(e.Payload)})
	}
	return c.JSON(fiber.Map{"task": t, "history": history})
}

// circleTaskStep performs one step (claim, refuse, submit, review, route, cancel) on a task.
func (s *Server) circleTaskStep(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		circle, err := s.visibleCircle(c)
		if err != nil {
			return err
		}
		var in circleTaskStepInput
		if len(c.Body()) > 0 || action != "route" && action != "cancel" {
			if err := decodeJSON(c, &in); err != nil {
				return err
			}
		}
		cmd := &commands.CircleTaskAction{Envelope: envelope(c), CircleID: circle.ID, TaskID: c.Params("task"), Action: action}
		switch action {
		case "claim", "refuse", "submit":
			if err := memberField(circle, "agent_id", in.AgentID, true); err != nil {
				return err
			}
			cmd.AgentID, cmd.Text = in.AgentID, in.Reason
			if action == "submit" {
				cmd.Text = in.Result
			}
		case "route":
			if err := memberField(circle, "agent_id", in.AgentID, false); err != nil {
				return err
			}
			cmd.AgentID = in.AgentID
		case "review":
			if err := memberField(circle, "reviewer_id", in.ReviewerID, false); err != nil {
				return err
			}
			cmd.AgentID, cmd.Decision, cmd.Text = in.ReviewerID, in.Decision, in.Comments
		case "cancel":
			cmd.Text = in.Reason
		}
		return s.sendTaskStep(c, cmd)
	}
}

// memberField checks that an agent named in the body is a member of the circle.
func memberField(circle projections.CircleView, field, agentID string, required bool) error {
	if agentID == "" {
		if required {
			return invalid(field, "is required (a member's agent id)")
		}
		return nil
	}
	for _, m := range circle.Members {
		if m.AgentID == agentID {
			return nil
		}
	}
	return invalid(field, "is not a member of the circle")
}

func (s *Server) sendTaskStep(c *fiber.Ctx, cmd *commands.CircleTaskAction) error {
	if _, err := uuid.Parse(cmd.TaskID); err != nil {
		return domain.Errorf(domain.CodeNotFound, "task %s not found", cmd.TaskID)
	}
	res, err := s.deps.Bus.Send(c.UserContext(), cmd)
	if res.Appended > 0 {
		// Also after a refused file claim: the conflict it recorded is then visible at once.
		if werr := s.waitFor(c, "circle_tasks", res); werr != nil && err == nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	v, err := s.deps.CircleTasks.ByID(c.UserContext(), cmd.TaskID)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) claimTaskFile(c *fiber.Ctx) error {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	var in circleTaskStepInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := memberField(circle, "agent_id", in.AgentID, true); err != nil {
		return err
	}
	return s.sendTaskStep(c, &commands.CircleTaskAction{Envelope: envelope(c), CircleID: circle.ID, TaskID: c.Params("task"),
		Action: "claim_file", AgentID: in.AgentID, Path: in.Path})
}

func (s *Server) releaseTaskFile(c *fiber.Ctx) error {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	return s.sendTaskStep(c, &commands.CircleTaskAction{Envelope: envelope(c), CircleID: circle.ID, TaskID: c.Params("task"),
		Action: "release_file", Path: c.Query("path")})
}

// circleList answers GET /circles/{name}/<what>: items read by list for the circle the caller
// may see, newest first, up to ?limit.
func circleList[T any](s *Server, list func(ctx context.Context, circleID string, c *fiber.Ctx, limit int) ([]T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		circle, err := s.visibleCircle(c)
		if err != nil {
			return err
		}
		limit, err := intQuery(c, "limit", 100, 1, 500)
		if err != nil {
			return err
		}
		items, err := list(c.UserContext(), circle.ID, c, limit)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"items": items})
	}
}

func (s *Server) circleEscalations() fiber.Handler {
	return circleList(s, func(ctx context.Context, circleID string, _ *fiber.Ctx, limit int) ([]projections.EscalationView, error) {
		return s.deps.CircleTasks.Escalations(ctx, circleID, limit)
	})
}

func (s *Server) circleConflicts() fiber.Handler {
	return circleList(s, func(ctx context.Context, circleID string, _ *fiber.Ctx, limit int) ([]projections.ConflictView, error) {
		return s.deps.CircleTasks.Conflicts(ctx, circleID, limit)
	})
}

func (s *Server) circleConversations() fiber.Handler {
	return circleList(s, func(ctx context.Context, circleID string, c *fiber.Ctx, limit int) ([]projections.ConversationSummary, error) {
		return s.deps.Conversations.List(ctx, circleID, "", strings.TrimSpace(c.Query("status")), limit)
	})
}

func (s *Server) projectTasks(c *fiber.Ctx) error {
	p, err := s.visibleProject(c)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	items, err := s.deps.CircleTasks.List(c.UserContext(), projections.TaskFilter{ProjectID: p.ID, Status: c.Query("status"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}
