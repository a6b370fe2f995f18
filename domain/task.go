package domain

import (
	"strings"
	"unicode/utf8"
)

// A background task is an agent working toward a goal on its own, step by step, each step an
// event. The stream is the task's whole memory: a job that dies resumes after its last recorded
// step.
const (
	StreamTypeTask = "task"

	EventTaskCreated   = "task.created"
	EventTaskStep      = "task.step_recorded"
	EventTaskPaused    = "task.paused"
	EventTaskResumed   = "task.resumed"
	EventTaskCancelled = "task.cancelled"
	EventTaskCompleted = "task.completed"
	EventTaskFailed    = "task.failed"

	MaxTaskGoalLen        = 4000
	DefaultTaskMaxSteps   = 10
	MaxTaskMaxSteps       = 100
	DefaultTaskTimeoutSec = 600
	MaxTaskTimeoutSec     = 86400
)

// TaskStatus is where a task stands.
type TaskStatus string

const (
	TaskStatusRunning   TaskStatus = "running"
	TaskStatusPaused    TaskStatus = "paused"
	TaskStatusCancelled TaskStatus = "cancelled"
	TaskStatusCompleted TaskStatus = "completed"
	TaskStatusFailed    TaskStatus = "failed"
)

// TaskStreamID returns the log stream of one task.
func TaskStreamID(id string) string { return "task-" + id }

// TaskStep is one recorded step: the agent's reasoning and action, the tools it used, the
// tokens it spent.
type TaskStep struct {
	Number     int              `json:"number"`
	Output     string           `json:"output"`
	ModelCalls []ModelCall      `json:"model_calls"`
	ToolCalls  []ToolCallRecord `json:"tool_calls"`
	Totals     ChatTotals       `json:"totals"`
	DurationMS int64            `json:"duration_ms"`
}

// Task is the aggregate of a background task.
type Task struct {
	ID         string
	AgentID    string
	Owner      string
	Goal       string
	MaxSteps   int
	TimeoutSec int
	Status     TaskStatus
	Steps      []TaskStep
	Version    int64
}

// Finished reports whether the task can no longer change.
func (t *Task) Finished() bool {
	return t.Status == TaskStatusCancelled || t.Status == TaskStatusCompleted || t.Status == TaskStatusFailed
}

// Apply folds one event into the task.
func (t *Task) Apply(e Event) {
	t.Version++
	switch ev := e.(type) {
	case *TaskCreated:
		t.ID, t.AgentID, t.Owner, t.Goal, t.MaxSteps, t.TimeoutSec, t.Status = ev.ID, ev.AgentID, ev.Owner, ev.Goal, ev.MaxSteps, ev.TimeoutSec, TaskStatusRunning
	case *TaskStepRecorded:
		t.Steps = append(t.Steps, ev.Step)
	case *TaskPaused:
		t.Status = TaskStatusPaused
	case *TaskResumed:
		t.Status = TaskStatusRunning
	case *TaskCancelled:
		t.Status = TaskStatusCancelled
	case *TaskCompleted:
		t.Status = TaskStatusCompleted
	case *TaskFailed:
		t.Status = TaskStatusFailed
	}
}

// Create decides whether a task may start.
func (t *Task) Create(actor Actor, id, agentID, goal string, maxSteps, timeoutSec int) ([]Event, error) {
	if t.Version > 0 {
		return nil, Errorf(CodeConflict, "task %s already exists", id)
	}
	goal = strings.TrimSpace(goal)
	if maxSteps == 0 {
		maxSteps = DefaultTaskMaxSteps
	}
	if timeoutSec == 0 {
		timeoutSec = DefaultTaskTimeoutSec
	}
	var v Validation
	switch n := utf8.RuneCountInString(goal); {
	case n == 0:
		v.Add("goal", "is required")
	case n > MaxTaskGoalLen:
		v.Add("goal", "must be at most %d characters (got %d)", MaxTaskGoalLen, n)
	}
	if maxSteps < 1 || maxSteps > MaxTaskMaxSteps {
		v.Add("max_steps", "must be between 1 and %d (got %d)", MaxTaskMaxSteps, maxSteps)
	}
	if timeoutSec < 1 || timeoutSec > MaxTaskTimeoutSec {
		v.Add("timeout_seconds", "must be between 1 and %d (got %d)", MaxTaskTimeoutSec, timeoutSec)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{&TaskCreated{ID: id, AgentID: agentID, Owner: actor.ID, Goal: goal, MaxSteps: maxSteps, TimeoutSec: timeoutSec}}, nil
}

func (t *Task) authorize(actor Actor) error {
	if t.Version == 0 {
		return Errorf(CodeNotFound, "task not found")
	}
	if !actor.IsAdmin() && actor.ID != t.Owner {
		return Errorf(CodeForbidden, "this task is not yours")
	}
	return nil
}

// Pause stops the task after its current step.
func (t *Task) Pause(actor Actor) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if t.Status != TaskStatusRunning {
		return nil, Errorf(CodeConflict, "only a running task can be paused (it is %s)", t.Status)
	}
	return []Event{&TaskPaused{}}, nil
}

// Resume continues a paused task.
func (t *Task) Resume(actor Actor) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if t.Status != TaskStatusPaused {
		return nil, Errorf(CodeConflict, "only a paused task can be resumed (it is %s)", t.Status)
	}
	return []Event{&TaskResumed{}}, nil
}

// Cancel ends the task for good.
func (t *Task) Cancel(actor Actor) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if t.Finished() {
		return nil, Errorf(CodeConflict, "the task already ended (%s)", t.Status)
	}
	return []Event{&TaskCancelled{}}, nil
}

// RecordStep adds the next step; a step for a task that is not running is refused, so a job
// that raced a pause or a cancel records nothing more.
func (t *Task) RecordStep(step TaskStep) ([]Event, error) {
	if t.Status != TaskStatusRunning {
		return nil, Errorf(CodeConflict, "the task is %s", t.Status)
	}
	if step.Number != len(t.Steps)+1 {
		return nil, Errorf(CodeConflict, "step %d is already recorded", step.Number)
	}
	return []Event{&TaskStepRecorded{Step: step}}, nil
}

// Complete ends the task with a result.
func (t *Task) Complete(result string) ([]Event, error) {
	if t.Status != TaskStatusRunning {
		return nil, Errorf(CodeConflict, "the task is %s", t.Status)
	}
	return []Event{&TaskCompleted{Result: result}}, nil
}

// Fail ends the task with a reason.
func (t *Task) Fail(reason, message string) ([]Event, error) {
	if t.Finished() {
		return nil, Errorf(CodeConflict, "the task is %s", t.Status)
	}
	return []Event{&TaskFailed{Reason: reason, Message: message}}, nil
}

type TaskCreated struct {
	ID         string `json:"id"`
	AgentID    string `json:"agent_id"`
	Owner      string `json:"owner"`
	Goal       string `json:"goal"`
	MaxSteps   int    `json:"max_steps"`
	TimeoutSec int    `json:"timeout_seconds"`
}

func (*TaskCreated) EventType() string { return EventTaskCreated }

type TaskStepRecorded struct {
	Step TaskStep `json:"step"`
}

func (*TaskStepRecorded) EventType() string { return EventTaskStep }

type TaskPaused struct{}

func (*TaskPaused) EventType() string { return EventTaskPaused }

type TaskResumed struct{}

func (*TaskResumed) EventType() string { return EventTaskResumed }

type TaskCancelled struct{}

func (*TaskCancelled) EventType() string { return EventTaskCancelled }

type TaskCompleted struct {
	Result string `json:"result"`
}

func (*TaskCompleted) EventType() string { return EventTaskCompleted }

// TaskFailed says why a task ended without a result: step_limit, time_limit, agent_deleted,
// or the provider's error kind.
type TaskFailed struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (*TaskFailed) EventType() string { return EventTaskFailed }

func taskEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventTaskCreated, func() Event { return &TaskCreated{} }),
		spec(EventTaskStep, func() Event { return &TaskStepRecorded{} }),
		spec(EventTaskPaused, func() Event { return &TaskPaused{} }),
		spec(EventTaskResumed, func() Event { return &TaskResumed{} }),
		spec(EventTaskCancelled, func() Event { return &TaskCancelled{} }),
		spec(EventTaskCompleted, func() Event { return &TaskCompleted{} }),
		spec(EventTaskFailed, func() Event { return &TaskFailed{} }),
	}
}
