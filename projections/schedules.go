package projections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Schedules is the projection behind /schedules and their runs, and the scheduler's view of
// what is due. It does not own schedule_fires or schedule_event_subscriptions (see
// 00012_schedules.sql): those are written by commands, and a replay must leave them alone.
type Schedules struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewSchedules returns the schedules projection.
func NewSchedules(events *domain.Registry) *Schedules {
	return &Schedules{q: dbq.New(), events: events}
}

func (*Schedules) Name() string     { return "schedules" }
func (*Schedules) Tables() []string { return []string{"schedules", "schedule_runs"} }

// ScheduleRunPending is the read model's status of a run its schedule fired and that has not
// started: the run's stream does not exist yet, so the domain has no word for it.
const ScheduleRunPending = "pending"

// attemptSucceeded is the outcome of a run's attempt that ended it well (see attemptRunning and
// attemptFailed in pipelines.go for the others).
const attemptSucceeded = "succeeded"

func (p *Schedules) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	switch e.StreamType {
	case domain.StreamTypeSchedule:
		return p.applySchedule(ctx, q, e)
	case domain.StreamTypeScheduleRun:
		return p.applyRun(ctx, q, e)
	}
	return nil
}

// nullTime is how the read model keeps the domain's "none" (the zero time).
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func (p *Schedules) applySchedule(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypeSchedule+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	switch ev := ev.(type) {
	case *domain.ScheduleCreated:
		spec, err := json.Marshal(ev.Spec)
		if err != nil {
			return err
		}
		return p.q.InsertSchedule(ctx, q, dbq.InsertScheduleParams{ID: id, Owner: ev.Owner, Name: ev.Spec.Name,
			Description: ev.Spec.Description, Type: ev.Spec.Type, Spec: spec, Action: ev.Spec.Action,
			NextDueAt: nullTime(ev.NextDueAt), Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ScheduleUpdated:
		spec, err := json.Marshal(ev.Spec)
		if err != nil {
			return err
		}
		return p.q.UpdateScheduleSpec(ctx, q, dbq.UpdateScheduleSpecParams{ID: id, Name: ev.Spec.Name,
			Description: ev.Spec.Description, Type: ev.Spec.Type, Spec: spec, Action: ev.Spec.Action,
			NextDueAt: nullTime(ev.NextDueAt), Done: ev.Done, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.SchedulePaused:
		return p.q.SetScheduleStatus(ctx, q, dbq.SetScheduleStatusParams{ID: id, Status: string(domain.ScheduleStatusPaused),
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ScheduleResumed:
		return p.q.ResumeSchedule(ctx, q, dbq.ResumeScheduleParams{ID: id, NextDueAt: nullTime(ev.NextDueAt), Done: ev.Done,
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ScheduleDeleted:
		return p.q.SetScheduleStatus(ctx, q, dbq.SetScheduleStatusParams{ID: id, Status: string(domain.ScheduleStatusDeleted),
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ScheduleFired:
		runID, err := uuid.Parse(ev.RunID)
		if err != nil {
			return fmt.Errorf("schedule.fired run_id: %w", err)
		}
		timeBased := ev.Trigger == domain.TriggerScheduler || ev.Trigger == domain.TriggerRecovery
		if err := p.q.RecordScheduleFired(ctx, q, dbq.RecordScheduleFiredParams{ID: id, TimeBased: timeBased,
			DueAt: ev.DueAt.UTC(), NextDueAt: nullTime(ev.NextDueAt), Done: ev.Done, RunID: runID, Version: e.Version,
			At: e.OccurredAt, LastPosition: e.Position}); err != nil {
			return err
		}
		// Written after the schedule so the run takes the retry budget the schedule has as of
		// this fire; a redelivered fire finds the run and changes nothing.
		return p.q.InsertFiredScheduleRun(ctx, q, dbq.InsertFiredScheduleRunParams{ID: runID, ScheduleID: id,
			Trigger: ev.Trigger, FireKey: ev.FireKey, DueAt: ev.DueAt.UTC(), FiredAt: e.OccurredAt, LastPosition: e.Position})
	case *domain.ScheduleMissed:
		return p.q.RecordScheduleMissed(ctx, q, dbq.RecordScheduleMissedParams{ID: id, LastDueAt: ev.Last.UTC(),
			NextDueAt: nullTime(ev.NextDueAt), Done: ev.Done, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	}
	return nil
}

func (p *Schedules) applyRun(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypeScheduleRun+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	if started, ok := ev.(*domain.ScheduleRunStarted); ok {
		return p.startRun(ctx, q, id, started, e)
	}
	run, err := p.q.GetScheduleRun(ctx, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // every run stream starts with schedule_run.started; nothing to update
	}
	if err != nil {
		return err
	}
	if run.Version >= e.Version {
		return nil // redelivered
	}
	var h scheduleAttempts
	if err := json.Unmarshal(run.History, &h); err != nil {
		return fmt.Errorf("history of run %s: %w", id, err)
	}
	before := run.Status
	at := e.OccurredAt.UTC()
	end := func(status domain.ScheduleRunStatus, durationMS int64) {
		run.Status = string(status)
		run.EndedAt = sql.NullTime{Time: at, Valid: true}
		// The domain measured the run on its own clock; its figure beats two clocks' difference.
		run.DurationMs = sql.NullInt64{Int64: max(0, durationMS), Valid: true}
		run.NextRetryAt = sql.NullTime{}
	}
	switch ev := ev.(type) {
	case *domain.ScheduleRunAttemptStarted:
		run.Status, run.Attempts, run.NextRetryAt = string(domain.ScheduleRunStatusRunning), int32(ev.Attempt), sql.NullTime{}
		h.started(ScheduleRunAttemptView{Attempt: ev.Attempt, StartedAt: ev.At.UTC(), Outcome: attemptRunning})
	case *domain.ScheduleRunAttemptFailed:
		run.Error = ev.Error
		if ev.WillRetry {
			run.Status, run.NextRetryAt = string(domain.ScheduleRunStatusRetrying), nullTime(ev.RetryAt)
		}
		if a := h.attempt(ev.Attempt); a != nil {
			d := max(0, ev.DurationMS)
			a.Outcome, a.EndedAt, a.DurationMS, a.Error, a.WillRetry = attemptFailed, &at, &d, ev.Error, ev.WillRetry
			if ev.WillRetry && !ev.RetryAt.IsZero() {
				r := ev.RetryAt.UTC()
				a.RetryAt = &r
			}
		}
	case *domain.ScheduleRunSucceeded:
		end(domain.ScheduleRunStatusSucceeded, ev.DurationMS)
		run.Result, run.Error = jsonOrNull(ev.Result), ""
		if a := h.attempt(ev.Attempt); a != nil {
			d := millisBetween(a.StartedAt, at)
			a.Outcome, a.EndedAt, a.DurationMS = attemptSucceeded, &at, &d
		}
	case *domain.ScheduleRunFailed:
		end(domain.ScheduleRunStatusFailed, ev.DurationMS)
		run.Error = ev.Error
		// schedule_run.attempt_failed, appended with this event, normally closed the attempt.
		if a := h.attempt(ev.Attempt); a != nil && a.Outcome == attemptRunning {
			d := millisBetween(a.StartedAt, at)
			a.Outcome, a.EndedAt, a.DurationMS, a.Error = attemptFailed, &at, &d, ev.Error
		}
	default:
		return nil
	}
	if h == nil {
		h = scheduleAttempts{}
	}
	if run.History, err = json.Marshal(h); err != nil {
		return err
	}
	n, err := p.q.UpdateScheduleRun(ctx, q, dbq.UpdateScheduleRunParams{ID: id, Status: run.Status, Attempts: run.Attempts,
		Error: run.Error, Result: run.Result, EndedAt: run.EndedAt, DurationMs: run.DurationMs, NextRetryAt: run.NextRetryAt,
		History: run.History, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	if err != nil || n == 0 || run.Status == before {
		return err
	}
	return p.q.RecordScheduleRunStatus(ctx, q, dbq.RecordScheduleRunStatusParams{ID: run.ScheduleID, RunID: id,
		Status: run.Status, At: e.OccurredAt, LastPosition: e.Position})
}

func (p *Schedules) startRun(ctx context.Context, q dbq.DBTX, id uuid.UUID, ev *domain.ScheduleRunStarted, e eventlog.Event) error {
	scheduleID, err := uuid.Parse(ev.ScheduleID)
	if err != nil {
		return fmt.Errorf("schedule_run.started schedule_id: %w", err)
	}
	started := ev.At.UTC()
	if started.IsZero() {
		started = e.OccurredAt.UTC()
	}
	history, err := json.Marshal(scheduleAttempts{{Attempt: 1, StartedAt: started, Outcome: attemptRunning}})
	if err != nil {
		return err
	}
	n, err := p.q.UpsertStartedScheduleRun(ctx, q, dbq.UpsertStartedScheduleRunParams{ID: id, ScheduleID: scheduleID,
		Owner: ev.Owner, Trigger: ev.Trigger, DueAt: ev.DueAt.UTC(), MaxRetries: int32(ev.MaxRetries), StartedAt: started,
		History: history, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	if err != nil || n == 0 {
		return err
	}
	return p.q.RecordScheduleRunStatus(ctx, q, dbq.RecordScheduleRunStatusParams{ID: scheduleID, RunID: id,
		Status: string(domain.ScheduleRunStatusRunning), At: e.OccurredAt, LastPosition: e.Position})
}

// scheduleAttempts is a run's history column: one entry per attempt started, in the form the
// API shows, so the read side decodes it as it is.
type scheduleAttempts []ScheduleRunAttemptView

func (h scheduleAttempts) attempt(n int) *ScheduleRunAttemptView {
	for i := range h {
		if h[i].Attempt == n {
			return &h[i]
		}
	}
	return nil
}

// started records an attempt's start; a start recorded again stays one attempt.
func (h *scheduleAttempts) started(a ScheduleRunAttemptView) {
	if old := h.attempt(a.Attempt); old != nil {
		*old = a
		return
	}
	*h = append(*h, a)
}

func (p *Schedules) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.SchedulesChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// ScheduleView is a schedule as the API shows it.
type ScheduleView struct {
	ID          string              `json:"id"`
	Owner       string              `json:"owner"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Type        string              `json:"type"`
	Action      string              `json:"action"`
	Status      string              `json:"status"`
	Spec        domain.ScheduleSpec `json:"spec"`
	// NextDueAt is absent when nothing is due any more, and for event schedules.
	NextDueAt     *time.Time `json:"next_due_at,omitempty"`
	LastDueAt     *time.Time `json:"last_due_at,omitempty"`
	Executions    int        `json:"executions"`
	RunsSucceeded int        `json:"runs_succeeded"`
	RunsFailed    int        `json:"runs_failed"`
	// LastRunID is the run of the latest fire; LastRunStatus is that run's status.
	LastRunID     string    `json:"last_run_id,omitempty"`
	LastRunStatus string    `json:"last_run_status,omitempty"`
	Version       int64     `json:"version"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ScheduleRunView is a run as the API shows it.
type ScheduleRunView struct {
	ID         string `json:"id"`
	ScheduleID string `json:"schedule_id"`
	Owner      string `json:"owner"`
	Trigger    string `json:"trigger"`
	FireKey    string `json:"fire_key"`
	// Status is pending (fired, not started), running, retrying, succeeded or failed.
	Status      string     `json:"status"`
	DueAt       time.Time  `json:"due_at"`
	FiredAt     time.Time  `json:"fired_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
	Attempts    int        `json:"attempts"`
	MaxRetries  int        `json:"max_retries"`
	Error       string     `json:"error,omitempty"`
	// Result is the successful attempt's, once the run succeeded.
	Result     json.RawMessage          `json:"result,omitempty"`
	DurationMS *int64                   `json:"duration_ms,omitempty"`
	History    []ScheduleRunAttemptView `json:"history"`
	Version    int64                    `json:"version"`
}

// ScheduleRunAttemptView is one attempt of a run. It is also the stored form of an entry of
// schedule_runs.history: times are UTC, so their RFC 3339 text is the same on every replay.
type ScheduleRunAttemptView struct {
	Attempt   int        `json:"attempt"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Outcome is running, failed or succeeded.
	Outcome    string     `json:"outcome"`
	Error      string     `json:"error,omitempty"`
	WillRetry  bool       `json:"will_retry,omitempty"`
	RetryAt    *time.Time `json:"retry_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
}

// ScheduleFilter selects schedules; empty fields do not filter.
type ScheduleFilter struct {
	Owner  string
	Status string
	After  string // the id of the last schedule of the previous page
	Limit  int
}

// ScheduleRunFilter selects runs; empty fields do not filter.
type ScheduleRunFilter struct {
	ScheduleID string
	Owner      string
	Status     string
	From, To   *time.Time // due times, both inclusive
	Before     string     // the id of the last run of the previous page
	Limit      int
}

// ScheduleQueries reads the schedules read model.
type ScheduleQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewScheduleQueries returns schedule queries on db.
func NewScheduleQueries(db *sql.DB) *ScheduleQueries { return &ScheduleQueries{db: db, q: dbq.New()} }

// Page sizes. The odd maxima leave room for a caller that asks one more than its largest page
// (200, 500) to learn whether another page follows.
const (
	defaultSchedulePage = 50
	maxSchedulePage     = 201
	maxScheduleRunPage  = 501
	defaultDuePage      = 100
	maxDuePage          = 1000
)

// pageSize is the number of rows a page asks for: def when unset, at most most.
func pageSize(limit, def, most int) int32 {
	switch {
	case limit <= 0:
		return int32(def)
	case limit > most:
		return int32(most)
	}
	return int32(limit)
}

func scheduleView(r dbq.Schedule) (ScheduleView, error) {
	v := ScheduleView{ID: r.ID.String(), Owner: r.Owner, Name: r.Name, Description: r.Description, Type: r.Type,
		Action: r.Action, Status: r.Status, NextDueAt: nullTimePtr(r.NextDueAt), LastDueAt: nullTimePtr(r.LastDueAt),
		Executions: int(r.Executions), RunsSucceeded: int(r.RunsSucceeded), RunsFailed: int(r.RunsFailed),
		LastRunStatus: r.LastRunStatus, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.LastRunID.Valid {
		v.LastRunID = r.LastRunID.UUID.String()
	}
	if err := json.Unmarshal(r.Spec, &v.Spec); err != nil {
		return v, err
	}
	// JSONB gives the config back spaced out; the domain keeps it compact.
	var b bytes.Buffer
	if json.Compact(&b, v.Spec.ActionConfig) == nil {
		v.Spec.ActionConfig = b.Bytes()
	}
	return v, nil
}

func scheduleViews(rows []dbq.Schedule) ([]ScheduleView, error) {
	out := make([]ScheduleView, 0, len(rows))
	for _, r := range rows {
		v, err := scheduleView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Get returns one schedule; a deleted one is not found.
func (s *ScheduleQueries) Get(ctx context.Context, id string) (ScheduleView, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return ScheduleView{}, domain.Errorf(domain.CodeNotFound, "schedule not found")
	}
	r, err := s.q.GetSchedule(ctx, s.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return ScheduleView{}, domain.Errorf(domain.CodeNotFound, "schedule not found")
	}
	if err != nil {
		return ScheduleView{}, err
	}
	return scheduleView(r)
}

// List returns the schedules that are not deleted, by name then id, one page at a time.
func (s *ScheduleQueries) List(ctx context.Context, f ScheduleFilter) ([]ScheduleView, error) {
	after, err := pageCursor("after", f.After)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListSchedules(ctx, s.db, dbq.ListSchedulesParams{Owner: nullString(f.Owner), Status: nullString(f.Status),
		AfterID: after, MaxRows: pageSize(f.Limit, defaultSchedulePage, maxSchedulePage)})
	if err != nil {
		return nil, err
	}
	return scheduleViews(rows)
}

// Due returns the active schedules whose next due time is at or before now, the longest
// overdue first; limit 0 takes a default.
func (s *ScheduleQueries) Due(ctx context.Context, now time.Time, limit int) ([]ScheduleView, error) {
	rows, err := s.q.DueSchedules(ctx, s.db, dbq.DueSchedulesParams{Now: now, MaxRows: pageSize(limit, defaultDuePage, maxDuePage)})
	if err != nil {
		return nil, err
	}
	return scheduleViews(rows)
}

func scheduleRunView(r dbq.ScheduleRun) (ScheduleRunView, error) {
	v := ScheduleRunView{ID: r.ID.String(), ScheduleID: r.ScheduleID.String(), Owner: r.Owner, Trigger: r.Trigger,
		FireKey: r.FireKey, Status: r.Status, DueAt: r.DueAt.UTC(), FiredAt: r.FiredAt.UTC(), StartedAt: nullTimePtr(r.StartedAt),
		EndedAt: nullTimePtr(r.EndedAt), NextRetryAt: nullTimePtr(r.NextRetryAt), Attempts: int(r.Attempts),
		MaxRetries: int(r.MaxRetries), Error: r.Error, DurationMS: nullInt64Ptr(r.DurationMs),
		History: []ScheduleRunAttemptView{}, Version: r.Version}
	if r.Status == string(domain.ScheduleRunStatusSucceeded) {
		v.Result = r.Result
	}
	return v, json.Unmarshal(r.History, &v.History)
}

// Run returns one run with the history of its attempts.
func (s *ScheduleQueries) Run(ctx context.Context, runID string) (ScheduleRunView, error) {
	u, err := uuid.Parse(runID)
	if err != nil {
		return ScheduleRunView{}, domain.Errorf(domain.CodeNotFound, "run not found")
	}
	r, err := s.q.GetScheduleRun(ctx, s.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return ScheduleRunView{}, domain.Errorf(domain.CodeNotFound, "run not found")
	}
	if err != nil {
		return ScheduleRunView{}, err
	}
	return scheduleRunView(r)
}

// Runs returns runs newest due time first, one page at a time.
func (s *ScheduleQueries) Runs(ctx context.Context, f ScheduleRunFilter) ([]ScheduleRunView, error) {
	var schedule uuid.NullUUID
	if f.ScheduleID != "" {
		u, err := uuid.Parse(f.ScheduleID)
		if err != nil {
			return []ScheduleRunView{}, nil // no schedule has that id, so it has no runs
		}
		schedule = uuid.NullUUID{UUID: u, Valid: true}
	}
	before, err := pageCursor("before", f.Before)
	if err != nil {
		return nil, err
	}
	var from, to sql.NullTime
	if f.From != nil {
		from = sql.NullTime{Time: *f.From, Valid: true}
	}
	if f.To != nil {
		to = sql.NullTime{Time: *f.To, Valid: true}
	}
	rows, err := s.q.ListScheduleRuns(ctx, s.db, dbq.ListScheduleRunsParams{ScheduleID: schedule, Owner: nullString(f.Owner),
		Status: nullString(f.Status), DueFrom: from, DueTo: to, BeforeID: before,
		MaxRows: pageSize(f.Limit, defaultSchedulePage, maxScheduleRunPage)})
	if err != nil {
		return nil, err
	}
	out := make([]ScheduleRunView, 0, len(rows))
	for _, r := range rows {
		v, err := scheduleRunView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
