package commands

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
)

// TaskRun is the job that works a background task until it ends, pauses or is cancelled.
type TaskRun struct {
	TaskID string `json:"task_id"`
}

func (TaskRun) Kind() string { return "task_run" }

type CreateTask struct {
	Envelope
	TaskID     string `json:"task_id"`
	AgentID    string `json:"agent_id"`
	Goal       string `json:"goal"`
	MaxSteps   int    `json:"max_steps"`
	TimeoutSec int    `json:"timeout_seconds"`
}

type PauseTask struct {
	Envelope
	TaskID string `json:"task_id"`
}

type ResumeTask struct {
	Envelope
	TaskID string `json:"task_id"`
}

type CancelTask struct {
	Envelope
	TaskID string `json:"task_id"`
}

type RecordTaskStep struct {
	Envelope
	TaskID string          `json:"task_id"`
	Step   domain.TaskStep `json:"step"`
}

type CompleteTask struct {
	Envelope
	TaskID string `json:"task_id"`
	Result string `json:"result"`
}

type FailTask struct {
	Envelope
	TaskID  string `json:"task_id"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Tasks holds the background task use cases.
type Tasks struct {
	repo *Repository
	jobs jobs.Inserter
}

// RegisterTasks adds the task command handlers to the bus.
func RegisterTasks(b *Bus, repo *Repository, inserter jobs.Inserter) *Tasks {
	t := &Tasks{repo: repo, jobs: inserter}
	handle(b, "tasks.create", t.Create)
	handle(b, "tasks.pause", t.Pause)
	handle(b, "tasks.resume", t.Resume)
	handle(b, "tasks.cancel", t.Cancel)
	handle(b, "tasks.record_step", t.RecordStep)
	handle(b, "tasks.complete", t.Complete)
	handle(b, "tasks.fail", t.Fail)
	return t
}

func newTask() *domain.Task { return &domain.Task{} }

func taskChange(id string, env Envelope) change {
	return change{streamID: domain.TaskStreamID(id), streamType: domain.StreamTypeTask, env: env}
}

// withJob enqueues the task's job in the same transaction as the events that start it.
func (t *Tasks) withJob(c change, taskID string) change {
	c.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		_, err := t.jobs.InsertTx(ctx, tx, TaskRun{TaskID: taskID}, &river.InsertOpts{MaxAttempts: 10})
		return err
	}
	return c
}

func (t *Tasks) Create(ctx context.Context, cmd *CreateTask) (Result, error) {
	return execute(ctx, t.repo, t.withJob(taskChange(cmd.TaskID, cmd.Envelope), cmd.TaskID), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.TaskID, cmd.AgentID, cmd.Goal, cmd.MaxSteps, cmd.TimeoutSec)
	})
}

func (t *Tasks) Pause(ctx context.Context, cmd *PauseTask) (Result, error) {
	return execute(ctx, t.repo, taskChange(cmd.TaskID, cmd.Envelope), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Pause(cmd.actor())
	})
}

func (t *Tasks) Resume(ctx context.Context, cmd *ResumeTask) (Result, error) {
	return execute(ctx, t.repo, t.withJob(taskChange(cmd.TaskID, cmd.Envelope), cmd.TaskID), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Resume(cmd.actor())
	})
}

func (t *Tasks) Cancel(ctx context.Context, cmd *CancelTask) (Result, error) {
	return execute(ctx, t.repo, taskChange(cmd.TaskID, cmd.Envelope), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Cancel(cmd.actor())
	})
}

func (t *Tasks) RecordStep(ctx context.Context, cmd *RecordTaskStep) (Result, error) {
	return execute(ctx, t.repo, taskChange(cmd.TaskID, cmd.Envelope), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.RecordStep(cmd.Step)
	})
}

func (t *Tasks) Complete(ctx context.Context, cmd *CompleteTask) (Result, error) {
	return execute(ctx, t.repo, taskChange(cmd.TaskID, cmd.Envelope), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Complete(cmd.Result)
	})
}

func (t *Tasks) Fail(ctx context.Context, cmd *FailTask) (Result, error) {
	return execute(ctx, t.repo, taskChange(cmd.TaskID, cmd.Envelope), newTask, func(agg *domain.Task) ([]domain.Event, error) {
		return agg.Fail(cmd.Reason, cmd.Message)
	})
}

// LoadTask rebuilds a task and returns its events (the first one dates its start).
func (r *Repository) LoadTask(ctx context.Context, taskID string) (*domain.Task, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.TaskStreamID(taskID), newTask)
}
