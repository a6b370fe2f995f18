// Package tasks runs background tasks: an agent works toward a goal on its own, one step at a
// time (recall what it did, plan, act with tools, observe), each step recorded as an event,
// until it reports the goal reached, runs out of steps or time, or a person pauses or cancels.
// The unit of resumption is the step: a job that dies mid-step does that step again.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/tools"
)

// FinishTool is the tool an agent calls to end its task with a result.
const FinishTool = "finish_task"

var finishSpec = llm.ToolSpec{Name: FinishTool, Description: "Call this once the goal is reached, with the result for the person who set it.",
	Parameters: json.RawMessage(`{"type":"object","properties":{"result":{"type":"string","minLength":1,"maxLength":20000}},"required":["result"],"additionalProperties":false}`)}

// Worker is the River worker of TaskRun jobs.
type Worker struct {
	river.WorkerDefaults[commands.TaskRun]
	Repo   *commands.Repository
	Bus    *commands.Bus
	Models chat.Models
	Tools  chat.Tools
	Cost   func(provider, model string, u llm.Usage) float64
	Log    zerolog.Logger
	Now    func() time.Time
}

// Timeout covers the longest task (its own time limit is checked between steps).
func (w *Worker) Timeout(*river.Job[commands.TaskRun]) time.Duration {
	return domain.MaxTaskTimeoutSec * time.Second
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Work runs steps until the task stops running. It re-reads the task before every step, so a
// pause or a cancel takes effect after the step in progress.
func (w *Worker) Work(ctx context.Context, job *river.Job[commands.TaskRun]) error {
	id := job.Args.TaskID
	for {
		task, events, err := w.Repo.LoadTask(ctx, id)
		if err != nil {
			return err
		}
		if task.Version == 0 || task.Status != domain.TaskStatusRunning {
			return nil // paused (a resume enqueues a new job), cancelled or finished
		}
		env := commands.NewEnvelope(domain.Actor{ID: "agent:" + task.AgentID, Role: domain.RoleMember}, "")
		env.Context = map[string]string{livefeed.MetadataAgent: task.AgentID}
		fail := func(reason, message string) error {
			_, err := w.Bus.Send(ctx, &commands.FailTask{Envelope: env, TaskID: id, Reason: reason, Message: message})
			if domain.ErrorCode(err) == domain.CodeConflict {
				return nil // a person cancelled meanwhile
			}
			return err
		}
		if len(task.Steps) >= task.MaxSteps {
			return fail("step_limit", fmt.Sprintf("no result after %d steps", task.MaxSteps))
		}
		started := events[0].OccurredAt
		if w.now().After(started.Add(time.Duration(task.TimeoutSec) * time.Second)) {
			return fail("time_limit", fmt.Sprintf("no result within %d seconds", task.TimeoutSec))
		}
		agent, err := w.Repo.LoadAgent(ctx, task.AgentID)
		if err != nil {
			return err
		}
		if !agent.Exists() {
			return fail("agent_deleted", "the agent was deleted")
		}
		provider, err := w.Models.Get(string(agent.Spec.Provider))
		if err != nil {
			return fail("provider", err.Error())
		}
		step, result, finished, err := w.step(ctx, task, agent, provider)
		var lerr *llm.Error
		switch {
		case errors.As(err, &lerr):
			return fail(string(lerr.Kind), lerr.Message)
		case errors.Is(err, chat.ErrLoopLimit):
			return fail("loop_limit", err.Error())
		case err != nil:
			return err
		}
		if _, err := w.Bus.Send(ctx, &commands.RecordTaskStep{Envelope: env, TaskID: id, Step: step}); err != nil {
			if domain.ErrorCode(err) == domain.CodeConflict {
				continue // paused or cancelled during the step: the next round sees it
			}
			return err
		}
		if finished {
			if _, err := w.Bus.Send(ctx, &commands.CompleteTask{Envelope: env, TaskID: id, Result: result}); err != nil && domain.ErrorCode(err) != domain.CodeConflict {
				return err
			}
			return nil
		}
	}
}

// step asks the agent for its next step, as one chat turn whose message is the goal and the
// steps so far.
func (w *Worker) step(ctx context.Context, task *domain.Task, agent *domain.Agent, provider llm.Provider) (domain.TaskStep, string, bool, error) {
	n := len(task.Steps) + 1
	msg := domain.ChatMessage{ID: fmt.Sprintf("%s-step-%d", task.ID, n), Role: "user", Content: stepPrompt(task, n)}
	session := &domain.Chat{ID: task.ID, AgentID: task.AgentID, Messages: []domain.ChatMessage{msg}}
	rec := &stepRecorder{}
	tt := &taskTools{base: w.Tools}
	started := w.now()
	output, totals, err := chat.Run(ctx, chat.Turn{Agent: agent, Chat: session, Message: msg, Provider: provider, Tools: tt,
		Record: rec, Cost: w.Cost, History: 1})
	if err != nil {
		return domain.TaskStep{}, "", false, err
	}
	step := domain.TaskStep{Number: n, Output: output, ModelCalls: rec.calls, ToolCalls: rec.tools, Totals: totals,
		DurationMS: w.now().Sub(started).Milliseconds()}
	if result, ok := tt.result(); ok {
		return step, result, true, nil
	}
	// A model without tool support may say so in words.
	if i := strings.Index(output, "TASK COMPLETE:"); i >= 0 {
		return step, strings.TrimSpace(output[i+len("TASK COMPLETE:"):]), true, nil
	}
	return step, "", false, nil
}

func stepPrompt(t *domain.Task, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are working on your own toward this goal:\n%s\n\n", t.Goal)
	if len(t.Steps) > 0 {
		b.WriteString("What you did so far:\n")
		for _, s := range t.Steps {
			fmt.Fprintf(&b, "Step %d: %s\n", s.Number, s.Output)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "This is step %d of at most %d. Recall what you did, plan the next action, act (use your tools), "+
		"and report what you observed. When the goal is reached, call %s with the result (or write \"TASK COMPLETE: <result>\").",
		n, t.MaxSteps, FinishTool)
	return b.String()
}

// taskTools offers the agent's tools plus finish_task, and catches the result.
type taskTools struct {
	base     chat.Tools
	mu       sync.Mutex
	finished *string
}

func (t *taskTools) Specs(allowed []string) []llm.ToolSpec {
	return append(t.base.Specs(allowed), finishSpec)
}

func (t *taskTools) Call(ctx context.Context, call llm.ToolCall, allowed []string) tools.Result {
	if call.Name != FinishTool {
		return t.base.Call(ctx, call, allowed)
	}
	var args struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(call.Arguments, &args); err != nil || strings.TrimSpace(args.Result) == "" {
		return tools.Result{CallID: call.ID, Name: call.Name, IsError: true, Error: `finish_task needs {"result": "<non-empty text>"}`}
	}
	t.mu.Lock()
	t.finished = &args.Result
	t.mu.Unlock()
	return tools.Result{CallID: call.ID, Name: call.Name, Output: json.RawMessage(`{"finished":true}`)}
}

func (t *taskTools) result() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished == nil {
		return "", false
	}
	return *t.finished, true
}

// stepRecorder keeps a step's calls in memory: the step is recorded whole.
type stepRecorder struct {
	calls []domain.ModelCall
	tools []domain.ToolCallRecord
}

func (r *stepRecorder) ModelCalled(_ context.Context, c domain.ModelCall) error {
	r.calls = append(r.calls, c)
	return nil
}

func (r *stepRecorder) ToolCalled(_ context.Context, t domain.ToolCallRecord) error {
	r.tools = append(r.tools, t)
	return nil
}
