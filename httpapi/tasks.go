package httpapi

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
)

type taskInput struct {
	Goal       string `json:"goal"`
	MaxSteps   int    `json:"max_steps"`
	TimeoutSec int    `json:"timeout_seconds"`
}

type taskView struct {
	ID         string            `json:"id"`
	AgentID    string            `json:"agent_id"`
	Goal       string            `json:"goal"`
	Status     domain.TaskStatus `json:"status"`
	MaxSteps   int               `json:"max_steps"`
	TimeoutSec int               `json:"timeout_seconds"`
	Result     string            `json:"result,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Steps      []domain.TaskStep `json:"steps"`
	Usage      domain.ChatTotals `json:"usage"`
	Version    int64             `json:"version"`
	CreatedAt  time.Time         `json:"created_at"`
}

func (s *Server) createTask(c *fiber.Ctx) error {
	var in taskInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	agent, err := s.visibleAgent(c, c.Params("id"))
	if err != nil {
		return err
	}
	id := uuid.NewString()
	env := envelope(c)
	env.Context[livefeed.MetadataAgent] = agent.ID
	if _, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateTask{Envelope: env, TaskID: id, AgentID: agent.ID,
		Goal: in.Goal, MaxSteps: in.MaxSteps, TimeoutSec: in.TimeoutSec}); err != nil {
		return err
	}
	view, err := s.loadTask(c, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/tasks/"+id)
	return c.Status(http.StatusAccepted).JSON(view)
}

// loadTask reads a task from its stream: the log is the read model of tasks for now, which
// also makes a task readable the moment it is created.
func (s *Server) loadTask(c *fiber.Ctx, id string) (taskView, error) {
	if _, err := uuid.Parse(id); err != nil {
		return taskView{}, domain.Errorf(domain.CodeNotFound, "task %s not found", id)
	}
	task, events, err := s.deps.Repo.LoadTask(c.UserContext(), id)
	if err != nil {
		return taskView{}, err
	}
	if task.Version == 0 {
		return taskView{}, domain.Errorf(domain.CodeNotFound, "task %s not found", id)
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && task.Owner != p.UserID {
		return taskView{}, domain.Errorf(domain.CodeForbidden, "this task is not yours")
	}
	v := taskView{ID: task.ID, AgentID: task.AgentID, Goal: task.Goal, Status: task.Status, MaxSteps: task.MaxSteps,
		TimeoutSec: task.TimeoutSec, Steps: task.Steps, Version: task.Version, CreatedAt: events[0].OccurredAt}
	if v.Steps == nil {
		v.Steps = []domain.TaskStep{}
	}
	for _, st := range task.Steps {
		v.Usage.Steps += st.Totals.Steps
		v.Usage.ToolCalls += st.Totals.ToolCalls
		v.Usage.InputTokens += st.Totals.InputTokens
		v.Usage.OutputTokens += st.Totals.OutputTokens
		v.Usage.CostUSD += st.Totals.CostUSD
	}
	for _, e := range events {
		ev, err := domain.Events.Decode(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return v, err
		}
		switch ev := ev.(type) {
		case *domain.TaskCompleted:
			v.Result = ev.Result
		case *domain.TaskFailed:
			v.Reason, v.Message = ev.Reason, ev.Message
		}
	}
	return v, nil
}

func (s *Server) getTask(c *fiber.Ctx) error {
	v, err := s.loadTask(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) taskAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := s.loadTask(c, c.Params("id")); err != nil {
			return err
		}
		env := envelope(c)
		id := c.Params("id")
		var cmd any
		switch action {
		case "pause":
			cmd = &commands.PauseTask{Envelope: env, TaskID: id}
		case "resume":
			cmd = &commands.ResumeTask{Envelope: env, TaskID: id}
		default:
			cmd = &commands.CancelTask{Envelope: env, TaskID: id}
		}
		if _, err := s.deps.Bus.Send(c.UserContext(), cmd); err != nil {
			return err
		}
		v, err := s.loadTask(c, id)
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}
