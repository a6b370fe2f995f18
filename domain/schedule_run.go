package domain

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// A schedule run (stream schedule_run-<id>) is one execution of a schedule's action for one
// fire. It snapshots the action and the retry policy, records every attempt, and always ends
// with a final status (succeeded or failed), its duration and, on failure, the error. A failed
// attempt is retried after the retry delay while retries are left (max_retries).
const (
	StreamTypeScheduleRun = "schedule_run"

	EventScheduleRunStarted        = "schedule_run.started"
	EventScheduleRunAttemptStarted = "schedule_run.attempt_started"
	EventScheduleRunAttemptFailed  = "schedule_run.attempt_failed"
	EventScheduleRunSucceeded      = "schedule_run.succeeded"
	EventScheduleRunFailed         = "schedule_run.failed"

	MaxScheduleRunErrorLen    = 2000
	MaxScheduleRunResultBytes = 64 << 10
)

// ScheduleRunStreamID returns the log stream of one run.
func ScheduleRunStreamID(id string) string { return "schedule_run-" + id }

// ScheduleRunStatus is where a run stands.
type ScheduleRunStatus string

const (
	ScheduleRunStatusRunning   ScheduleRunStatus = "running"
	ScheduleRunStatusRetrying  ScheduleRunStatus = "retrying"
	ScheduleRunStatusSucceeded ScheduleRunStatus = "succeeded"
	ScheduleRunStatusFailed    ScheduleRunStatus = "failed"
)

// ScheduleRun is the aggregate of one run.
type ScheduleRun struct {
	ID            string
	ScheduleID    string
	Owner         string
	Trigger       string
	DueAt         time.Time
	Action        string
	ActionConfig  json.RawMessage
	MaxRetries    int
	RetryDelaySec int
	TimeoutSec    int
	StartedAt     time.Time
	Status        ScheduleRunStatus
	Attempt       int
	AttemptAt     time.Time
	RetryAt       time.Time
	Error         string
	Result        json.RawMessage
	Version       int64
}

// Apply folds one event into the run.
func (r *ScheduleRun) Apply(e Event) {
	r.Version++
	switch ev := e.(type) {
	case *ScheduleRunStarted:
		r.ID, r.ScheduleID, r.Owner, r.Trigger, r.DueAt = ev.ID, ev.ScheduleID, ev.Owner, ev.Trigger, ev.DueAt
		r.Action, r.ActionConfig, r.MaxRetries, r.RetryDelaySec, r.TimeoutSec = ev.Action, ev.ActionConfig, ev.MaxRetries, ev.RetryDelaySec, ev.TimeoutSec
		r.StartedAt, r.AttemptAt, r.Status, r.Attempt = ev.At, ev.At, ScheduleRunStatusRunning, 1
	case *ScheduleRunAttemptStarted:
		r.Status, r.Attempt, r.AttemptAt, r.RetryAt = ScheduleRunStatusRunning, ev.Attempt, ev.At, time.Time{}
	case *ScheduleRunAttemptFailed:
		r.Error = ev.Error
		if ev.WillRetry {
			r.Status, r.RetryAt = ScheduleRunStatusRetrying, ev.RetryAt
		}
	case *ScheduleRunSucceeded:
		r.Status, r.Result, r.Error = ScheduleRunStatusSucceeded, ev.Result, ""
	case *ScheduleRunFailed:
		r.Status, r.Error = ScheduleRunStatusFailed, ev.Error
	}
}

// Finished reports whether the run has its final status.
func (r *ScheduleRun) Finished() bool {
	return r.Status == ScheduleRunStatusSucceeded || r.Status == ScheduleRunStatusFailed
}

// Start opens the run for a fire of schedule s and begins its first attempt.
func (r *ScheduleRun) Start(id string, s *Schedule, fired ScheduleFired, now time.Time) ([]Event, error) {
	if r.Version > 0 {
		return nil, Errorf(CodeConflict, "run %s already exists", id)
	}
	return []Event{&ScheduleRunStarted{ID: id, ScheduleID: s.ID, Owner: s.Owner, Trigger: fired.Trigger, DueAt: fired.DueAt,
		Action: s.Spec.Action, ActionConfig: s.Spec.ActionConfig, MaxRetries: s.Spec.MaxRetries, RetryDelaySec: s.Spec.RetryDelaySec,
		TimeoutSec: s.Spec.TimeoutSec, At: now.UTC()}}, nil
}

// StartAttempt begins attempt (the one after a failure that will be retried). Starting the
// attempt in progress again records nothing: a job that died mid-attempt redoes it.
func (r *ScheduleRun) StartAttempt(attempt int, now time.Time) ([]Event, error) {
	switch {
	case r.Version == 0:
		return nil, Errorf(CodeNotFound, "run not found")
	case r.Finished():
		return nil, Errorf(CodeConflict, "the run has %s", r.Status)
	case r.Status == ScheduleRunStatusRunning && attempt == r.Attempt:
		return nil, nil
	case r.Status != ScheduleRunStatusRetrying || attempt != r.Attempt+1:
		return nil, Errorf(CodeConflict, "the run is %s at attempt %d; attempt %d cannot start", r.Status, r.Attempt, attempt)
	}
	return []Event{&ScheduleRunAttemptStarted{Attempt: attempt, At: now.UTC()}}, nil
}

func (r *ScheduleRun) requireRunning(attempt int) error {
	switch {
	case r.Version == 0:
		return Errorf(CodeNotFound, "run not found")
	case r.Finished():
		return Errorf(CodeConflict, "the run has %s", r.Status)
	case r.Status != ScheduleRunStatusRunning || attempt != r.Attempt:
		return Errorf(CodeConflict, "attempt %d is not the one running (%s, attempt %d)", attempt, r.Status, r.Attempt)
	}
	return nil
}

// Succeed ends the run with the attempt's result (any JSON; empty means null).
func (r *ScheduleRun) Succeed(attempt int, result json.RawMessage, now time.Time) ([]Event, error) {
	if err := r.requireRunning(attempt); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(result)) == 0 {
		result = json.RawMessage("null")
	}
	var b bytes.Buffer
	if len(result) > MaxScheduleRunResultBytes || json.Compact(&b, result) != nil {
		b.Reset()
		b.WriteString(`{"note":"the result was too large or not JSON and was not kept"}`)
	}
	return []Event{&ScheduleRunSucceeded{Attempt: attempt, Result: b.Bytes(), DurationMS: now.Sub(r.StartedAt).Milliseconds()}}, nil
}

// Fail records a failed attempt: retried after the retry delay while retries are left (the
// first attempt plus MaxRetries), else the run fails with the error.
func (r *ScheduleRun) Fail(attempt int, message string, retryable bool, now time.Time) ([]Event, error) {
	if err := r.requireRunning(attempt); err != nil {
		return nil, err
	}
	message = strings.TrimSpace(message)
	if message == "" {
		message = "failed"
	}
	if utf8.RuneCountInString(message) > MaxScheduleRunErrorLen {
		message = string([]rune(message)[:MaxScheduleRunErrorLen-1]) + "…"
	}
	willRetry := retryable && attempt <= r.MaxRetries
	ev := &ScheduleRunAttemptFailed{Attempt: attempt, Error: message, Retryable: retryable, WillRetry: willRetry,
		DurationMS: now.Sub(r.AttemptAt).Milliseconds()}
	if willRetry {
		ev.RetryAt = now.Add(time.Duration(r.RetryDelaySec) * time.Second).UTC()
		return []Event{ev}, nil
	}
	return []Event{ev, &ScheduleRunFailed{Attempt: attempt, Error: message, DurationMS: now.Sub(r.StartedAt).Milliseconds()}}, nil
}

// ScheduleRunStarted opens a run and begins attempt 1; it snapshots what the run executes.
type ScheduleRunStarted struct {
	ID            string          `json:"id"`
	ScheduleID    string          `json:"schedule_id"`
	Owner         string          `json:"owner"`
	Trigger       string          `json:"trigger"`
	DueAt         time.Time       `json:"due_at"`
	Action        string          `json:"action"`
	ActionConfig  json.RawMessage `json:"action_config"`
	MaxRetries    int             `json:"max_retries"`
	RetryDelaySec int             `json:"retry_delay_sec"`
	TimeoutSec    int             `json:"timeout_sec"`
	At            time.Time       `json:"at"`
}

func (*ScheduleRunStarted) EventType() string { return EventScheduleRunStarted }

type ScheduleRunAttemptStarted struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
}

func (*ScheduleRunAttemptStarted) EventType() string { return EventScheduleRunAttemptStarted }

type ScheduleRunAttemptFailed struct {
	Attempt    int       `json:"attempt"`
	Error      string    `json:"error"`
	Retryable  bool      `json:"retryable"`
	WillRetry  bool      `json:"will_retry"`
	RetryAt    time.Time `json:"retry_at,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

func (*ScheduleRunAttemptFailed) EventType() string { return EventScheduleRunAttemptFailed }

type ScheduleRunSucceeded struct {
	Attempt    int             `json:"attempt"`
	Result     json.RawMessage `json:"result"`
	DurationMS int64           `json:"duration_ms"`
}

func (*ScheduleRunSucceeded) EventType() string { return EventScheduleRunSucceeded }

type ScheduleRunFailed struct {
	Attempt    int    `json:"attempt"`
	Error      string `json:"error"`
	DurationMS int64  `json:"duration_ms"`
}

func (*ScheduleRunFailed) EventType() string { return EventScheduleRunFailed }
