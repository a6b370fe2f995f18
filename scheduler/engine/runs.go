package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
)

// Runner holds what schedule runs need; its workers are registered with River.
type Runner struct {
	Repo *commands.Repository
	Bus  *commands.Bus
	// HTTP sends notifications and API calls, behind the private-address guard unless the
	// instance allows private networks.
	HTTP *http.Client
	Log  zerolog.Logger
	// PollEvery is how often a run waits on the task or pipeline run it started.
	PollEvery time.Duration
}

// Workers registers the runner's workers.
func (r *Runner) Workers(w *river.Workers) {
	river.AddWorker(w, &RunWorker{r: r})
	river.AddWorker(w, &EventFireWorker{r: r})
}

// RunWorker runs ScheduleRunAttempt jobs.
type RunWorker struct {
	river.WorkerDefaults[commands.ScheduleRunAttempt]
	r *Runner
}

// NewRunWorker returns the worker of run attempts (tests call Work directly).
func (r *Runner) NewRunWorker() *RunWorker { return &RunWorker{r: r} }

// Timeout: the run's own timeout bounds the action (see Work).
func (*RunWorker) Timeout(*river.Job[commands.ScheduleRunAttempt]) time.Duration {
	return time.Duration(domain.MaxScheduleTimeoutSec)*time.Second + 10*time.Minute
}

// Work runs one attempt of a run and records its outcome. A job that died mid-attempt and is
// run again redoes the same attempt; a stale job (the run moved on or ended) does nothing. A
// job stopped by shutdown records nothing and is handed back to River, which runs it again
// here after a restart or on another instance.
func (w *RunWorker) Work(ctx context.Context, job *river.Job[commands.ScheduleRunAttempt]) error {
	r, a := w.r, job.Args
	env := commands.NewEnvelope(domain.System, a.RunID)
	run, _, err := r.Repo.LoadScheduleRun(ctx, a.RunID)
	if err != nil {
		return err
	}
	if run.Version == 0 {
		if a.Attempt != 1 {
			return nil
		}
		_, err := r.Bus.Send(ctx, &commands.StartScheduleRun{Envelope: env, RunID: a.RunID, ScheduleID: a.ScheduleID, Trigger: a.Trigger, DueAt: a.DueAt})
		switch {
		case err == nil, domain.ErrorCode(err) == domain.CodeConflict:
		case domain.ErrorCode(err) == domain.CodeNotFound:
			return nil // the schedule is gone
		default:
			return err
		}
		if run, _, err = r.Repo.LoadScheduleRun(ctx, a.RunID); err != nil {
			return err
		}
	}
	switch {
	case run.Finished():
		return nil
	case run.Status == domain.ScheduleRunStatusRunning && run.Attempt == a.Attempt:
	case run.Status == domain.ScheduleRunStatusRetrying && run.Attempt+1 == a.Attempt:
		if _, err := r.Bus.Send(ctx, &commands.StartScheduleAttempt{Envelope: env, RunID: a.RunID, ScheduleID: run.ScheduleID, Attempt: a.Attempt}); err != nil {
			return ignoreConflict(err)
		}
		if run, _, err = r.Repo.LoadScheduleRun(ctx, a.RunID); err != nil {
			return err
		}
	default:
		return nil
	}

	actx, cancel := context.WithTimeout(ctx, time.Duration(run.TimeoutSec)*time.Second)
	defer cancel()
	result, err := r.dispatch(actx, run)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		retryable := !isPermanent(err)
		if errors.Is(actx.Err(), context.DeadlineExceeded) {
			err, retryable = fmt.Errorf("timed out after %d seconds: %w", run.TimeoutSec, err), true
		}
		_, ferr := r.Bus.Send(ctx, &commands.FailScheduleAttempt{Envelope: env, RunID: run.ID, ScheduleID: run.ScheduleID,
			Attempt: run.Attempt, Error: err.Error(), Retryable: retryable})
		return ignoreConflict(ferr)
	}
	_, err = r.Bus.Send(ctx, &commands.SucceedScheduleRun{Envelope: env, RunID: run.ID, ScheduleID: run.ScheduleID,
		Attempt: run.Attempt, Result: result})
	return ignoreConflict(err)
}

func ignoreConflict(err error) error {
	if domain.ErrorCode(err) == domain.CodeConflict {
		return nil
	}
	return err
}

// EventFireWorker fires an event schedule for one event.
type EventFireWorker struct {
	river.WorkerDefaults[commands.ScheduleEventFire]
	r *Runner
}

func (w *EventFireWorker) Work(ctx context.Context, job *river.Job[commands.ScheduleEventFire]) error {
	a := job.Args
	_, err := w.r.Bus.Send(ctx, &commands.FireSchedule{Envelope: commands.NewEnvelope(domain.System, ""), ScheduleID: a.ScheduleID,
		Trigger: domain.TriggerEvent, FireKey: "event:" + a.EventID, DueAt: a.OccurredAt})
	switch domain.ErrorCode(err) {
	case domain.CodeConflict, domain.CodeNotFound:
		return nil // fired already, or the schedule was paused, changed or deleted meanwhile
	}
	return err
}

// permanentError marks a failure that a retry would repeat (a bad config, a refused address, a
// 4xx answer): the run fails at once instead of using its retries.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// result marshals a run's result.
func result(v any) (json.RawMessage, error) { return json.Marshal(v) }
