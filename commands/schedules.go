package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/scheduler"
	"github.com/gathering/gathering/sql/dbq"
)

// ScheduleRunAttempt is the job of one attempt of a schedule run. The first is inserted with
// the fire that creates the run; each retry with the failure it retries, scheduled after the
// retry delay.
type ScheduleRunAttempt struct {
	RunID      string    `json:"run_id"`
	ScheduleID string    `json:"schedule_id"`
	Trigger    string    `json:"trigger"`
	DueAt      time.Time `json:"due_at"`
	Attempt    int       `json:"attempt"`
}

func (ScheduleRunAttempt) Kind() string { return "schedule_run_attempt" }

// ScheduleEventFire is the job that fires an event schedule for one appended event; the
// event-trigger process manager inserts it in the transaction that acknowledges the event.
type ScheduleEventFire struct {
	ScheduleID string    `json:"schedule_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Position   int64     `json:"position"`
	OccurredAt time.Time `json:"occurred_at"`
}

func (ScheduleEventFire) Kind() string { return "schedule_event_fire" }

type CreateSchedule struct {
	Envelope
	ScheduleID string              `json:"schedule_id"`
	Spec       domain.ScheduleSpec `json:"spec"`
}

type UpdateSchedule struct {
	Envelope
	ScheduleID string              `json:"schedule_id"`
	Spec       domain.ScheduleSpec `json:"spec"`
}

// ScheduleAction pauses, resumes or deletes a schedule.
type ScheduleAction struct {
	Envelope
	ScheduleID string `json:"schedule_id"`
	Action     string `json:"action"` // pause | resume | delete
}

// FireSchedule starts run RunID of a schedule for a due time (or an event, or a person).
type FireSchedule struct {
	Envelope
	ScheduleID string    `json:"schedule_id"`
	RunID      string    `json:"run_id"`
	Trigger    string    `json:"trigger"`
	FireKey    string    `json:"fire_key"`
	DueAt      time.Time `json:"due_at"`
}

// MissSchedule records due times that passed without a run.
type MissSchedule struct {
	Envelope
	ScheduleID string    `json:"schedule_id"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Count      int       `json:"count"`
}

// StartScheduleRun opens a fired run and begins its first attempt.
type StartScheduleRun struct {
	Envelope
	RunID      string    `json:"run_id"`
	ScheduleID string    `json:"schedule_id"`
	Trigger    string    `json:"trigger"`
	DueAt      time.Time `json:"due_at"`
}

type StartScheduleAttempt struct {
	Envelope
	RunID      string `json:"run_id"`
	ScheduleID string `json:"schedule_id"`
	Attempt    int    `json:"attempt"`
}

type SucceedScheduleRun struct {
	Envelope
	RunID      string          `json:"run_id"`
	ScheduleID string          `json:"schedule_id"`
	Attempt    int             `json:"attempt"`
	Result     json.RawMessage `json:"result"`
}

type FailScheduleAttempt struct {
	Envelope
	RunID      string `json:"run_id"`
	ScheduleID string `json:"schedule_id"`
	Attempt    int    `json:"attempt"`
	Error      string `json:"error"`
	Retryable  bool   `json:"retryable"`
}

// Schedules holds the schedule use cases.
type Schedules struct {
	repo  *Repository
	jobs  jobs.Inserter
	timer scheduler.Timer
	q     *dbq.Queries
	// Now is the clock of creation, resumption and run times; tests set it before sending.
	Now func() time.Time
}

// RegisterSchedules adds the schedule command handlers to the bus.
func RegisterSchedules(b *Bus, repo *Repository, inserter jobs.Inserter) *Schedules {
	s := &Schedules{repo: repo, jobs: inserter, q: dbq.New(), Now: time.Now}
	handle(b, "schedules.create", s.Create)
	handle(b, "schedules.update", s.Update)
	handle(b, "schedules.act", s.Act)
	handle(b, "schedules.fire", s.Fire)
	handle(b, "schedules.miss", s.Miss)
	handle(b, "schedules.start_run", s.StartRun)
	handle(b, "schedules.start_attempt", s.StartAttempt)
	handle(b, "schedules.succeed_run", s.SucceedRun)
	handle(b, "schedules.fail_attempt", s.FailAttempt)
	return s
}

func newSchedule() *domain.Schedule { return &domain.Schedule{} }

func newScheduleRun() *domain.ScheduleRun { return &domain.ScheduleRun{} }

func scheduleChange(id string, env Envelope) change {
	return change{streamID: domain.ScheduleStreamID(id), streamType: domain.StreamTypeSchedule, env: env}
}

// runChange puts a run's events on its schedule's feed too.
func scheduleRunChange(runID, scheduleID string, env Envelope) change {
	meta := map[string]string{livefeed.MetadataSchedule: scheduleID}
	for k, v := range env.Context {
		meta[k] = v
	}
	env.Context = meta
	return change{streamID: domain.ScheduleRunStreamID(runID), streamType: domain.StreamTypeScheduleRun, env: env}
}

func (s *Schedules) Create(ctx context.Context, cmd *CreateSchedule) (Result, error) {
	return execute(ctx, s.repo, scheduleChange(cmd.ScheduleID, cmd.Envelope), newSchedule, func(agg *domain.Schedule) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.ScheduleID, cmd.Spec, s.timer, scheduler.CheckAction, s.Now())
	})
}

func (s *Schedules) Update(ctx context.Context, cmd *UpdateSchedule) (Result, error) {
	return execute(ctx, s.repo, scheduleChange(cmd.ScheduleID, cmd.Envelope), newSchedule, func(agg *domain.Schedule) ([]domain.Event, error) {
		return agg.Update(cmd.actor(), cmd.Spec, s.timer, scheduler.CheckAction, s.Now())
	})
}

func (s *Schedules) Act(ctx context.Context, cmd *ScheduleAction) (Result, error) {
	return execute(ctx, s.repo, scheduleChange(cmd.ScheduleID, cmd.Envelope), newSchedule, func(agg *domain.Schedule) ([]domain.Event, error) {
		switch cmd.Action {
		case "pause":
			return agg.Pause(cmd.actor())
		case "resume":
			return agg.Resume(cmd.actor(), s.timer, s.Now())
		case "delete":
			return agg.Delete(cmd.actor())
		}
		return nil, domain.Errorf(domain.CodeInvalid, "unknown schedule action %q", cmd.Action)
	})
}

// Fire records the fire and, in the same transaction, claims its (schedule, fire key) row and
// queues the run's first attempt: if the row was already claimed the whole fire rolls back.
func (s *Schedules) Fire(ctx context.Context, cmd *FireSchedule) (Result, error) {
	if cmd.RunID == "" {
		cmd.RunID = uuid.NewString()
	}
	ch := scheduleChange(cmd.ScheduleID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		sid, err := uuid.Parse(cmd.ScheduleID)
		if err != nil {
			return domain.Errorf(domain.CodeNotFound, "schedule not found")
		}
		rid, err := uuid.Parse(cmd.RunID)
		if err != nil {
			return domain.Errorf(domain.CodeInvalid, "run id %q is not a uuid", cmd.RunID)
		}
		n, err := s.q.ClaimScheduleFire(ctx, tx, dbq.ClaimScheduleFireParams{ScheduleID: sid, FireKey: cmd.FireKey, RunID: rid})
		if err != nil {
			return err
		}
		if n == 0 {
			return domain.Errorf(domain.CodeConflict, "%s already fired", cmd.FireKey)
		}
		_, err = s.jobs.InsertTx(ctx, tx, ScheduleRunAttempt{RunID: cmd.RunID, ScheduleID: cmd.ScheduleID, Trigger: cmd.Trigger,
			DueAt: cmd.DueAt.UTC(), Attempt: 1}, &river.InsertOpts{MaxAttempts: 25})
		return err
	}
	return execute(ctx, s.repo, ch, newSchedule, func(agg *domain.Schedule) ([]domain.Event, error) {
		return agg.Fire(cmd.actor(), cmd.RunID, cmd.Trigger, cmd.FireKey, cmd.DueAt, s.timer)
	})
}

func (s *Schedules) Miss(ctx context.Context, cmd *MissSchedule) (Result, error) {
	return execute(ctx, s.repo, scheduleChange(cmd.ScheduleID, cmd.Envelope), newSchedule, func(agg *domain.Schedule) ([]domain.Event, error) {
		return agg.Miss(cmd.First, cmd.Last, cmd.Count, s.timer)
	})
}

// StartRun opens the run with a snapshot of its schedule as it is now.
func (s *Schedules) StartRun(ctx context.Context, cmd *StartScheduleRun) (Result, error) {
	sched, _, err := s.repo.LoadSchedule(ctx, cmd.ScheduleID)
	if err != nil {
		return Result{}, err
	}
	if sched.Version == 0 {
		return Result{}, domain.Errorf(domain.CodeNotFound, "schedule not found")
	}
	return execute(ctx, s.repo, scheduleRunChange(cmd.RunID, cmd.ScheduleID, cmd.Envelope), newScheduleRun, func(run *domain.ScheduleRun) ([]domain.Event, error) {
		return run.Start(cmd.RunID, sched, domain.ScheduleFired{RunID: cmd.RunID, Trigger: cmd.Trigger, DueAt: cmd.DueAt}, s.Now())
	})
}

func (s *Schedules) StartAttempt(ctx context.Context, cmd *StartScheduleAttempt) (Result, error) {
	return execute(ctx, s.repo, scheduleRunChange(cmd.RunID, cmd.ScheduleID, cmd.Envelope), newScheduleRun, func(run *domain.ScheduleRun) ([]domain.Event, error) {
		return run.StartAttempt(cmd.Attempt, s.Now())
	})
}

func (s *Schedules) SucceedRun(ctx context.Context, cmd *SucceedScheduleRun) (Result, error) {
	return execute(ctx, s.repo, scheduleRunChange(cmd.RunID, cmd.ScheduleID, cmd.Envelope), newScheduleRun, func(run *domain.ScheduleRun) ([]domain.Event, error) {
		return run.Succeed(cmd.Attempt, cmd.Result, s.Now())
	})
}

// FailAttempt records a failed attempt and, when it will be retried, queues the next attempt
// for its retry time in the same transaction.
func (s *Schedules) FailAttempt(ctx context.Context, cmd *FailScheduleAttempt) (Result, error) {
	var retry *ScheduleRunAttempt
	var retryAt time.Time
	ch := scheduleRunChange(cmd.RunID, cmd.ScheduleID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		if retry == nil {
			return nil
		}
		_, err := s.jobs.InsertTx(ctx, tx, *retry, &river.InsertOpts{MaxAttempts: 25, ScheduledAt: retryAt})
		return err
	}
	return execute(ctx, s.repo, ch, newScheduleRun, func(run *domain.ScheduleRun) ([]domain.Event, error) {
		retry = nil
		events, err := run.Fail(cmd.Attempt, cmd.Error, cmd.Retryable, s.Now())
		if err != nil {
			return nil, err
		}
		if f := events[0].(*domain.ScheduleRunAttemptFailed); f.WillRetry {
			retry = &ScheduleRunAttempt{RunID: run.ID, ScheduleID: run.ScheduleID, Trigger: run.Trigger, DueAt: run.DueAt, Attempt: f.Attempt + 1}
			retryAt = f.RetryAt
		}
		return events, nil
	})
}

// LoadSchedule rebuilds a schedule and returns its events.
func (r *Repository) LoadSchedule(ctx context.Context, id string) (*domain.Schedule, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.ScheduleStreamID(id), newSchedule)
}

// LoadScheduleRun rebuilds a schedule run and returns its events.
func (r *Repository) LoadScheduleRun(ctx context.Context, id string) (*domain.ScheduleRun, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.ScheduleRunStreamID(id), newScheduleRun)
}
