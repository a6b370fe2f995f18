// Package engine runs schedules: a ticker fires what is due (each due time once, whatever the
// number of instances), River jobs run each fire's action outside any transaction and record
// its outcome, retries included, and a process manager fires event schedules on the events
// they wait for.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/scheduler"
	"github.com/gathering/gathering/sql/dbq"
)

// advisoryLockClass is the first key of the two-key advisory locks the ticker takes per
// schedule (the second is the hash of its id), so they cannot collide with other locks.
const advisoryLockClass = 0x5C4E

var queries = dbq.New()

// maxMissedScan bounds how many missed due times one tick walks through; a longer gap (a
// minutely schedule down for months) is caught up over several ticks.
const maxMissedScan = 100000

// Ticker fires due schedules. Every instance runs one; they agree through the log (a fire must
// name the due time the schedule expects next), a unique (schedule, fire key) row written with
// the fire, and an advisory lock per schedule that keeps two instances from even trying at
// once. Any database error skips the schedule for this tick: it fails closed, never twice.
type Ticker struct {
	DB        *sql.DB
	Repo      *commands.Repository
	Bus       *commands.Bus
	Schedules *projections.ScheduleQueries
	Log       zerolog.Logger
	// Now is the clock; Every the pause between ticks (default 1 s); LateAfter how late a due
	// time may be noticed and still run as on time (default 1 minute): later ones were missed
	// and follow the schedule's missed-run policy.
	Now       func() time.Time
	Every     time.Duration
	LateAfter time.Duration

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func (t *Ticker) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Start ticks in the background until Stop. The first tick runs at once: on start, what fell
// due while no instance ran is found and handled.
func (t *Ticker) Start() {
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	every := t.Every
	if every <= 0 {
		every = time.Second
	}
	go func() {
		defer close(t.done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for {
			if _, err := t.Tick(ctx); err != nil {
				t.Log.Warn().Err(err).Msg("scheduler tick failed; nothing fired from it")
			}
			select {
			case <-t.stop:
				return
			case <-time.After(every):
			}
		}
	}()
}

// Stop stops taking due times, after the tick in progress. Runs already fired are jobs; they
// finish or are handed back when the job client stops.
func (t *Ticker) Stop() {
	if t.stop == nil {
		return
	}
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
}

// Tick handles every schedule due now and returns how many fires it recorded.
func (t *Ticker) Tick(ctx context.Context) (int, error) {
	now := t.now()
	due, err := t.Schedules.Due(ctx, now, 200)
	if err != nil {
		return 0, err
	}
	fired := 0
	var errs []error
	for _, s := range due {
		n, err := t.handle(ctx, s.ID, now)
		fired += n
		if err != nil {
			errs = append(errs, err)
			t.Log.Warn().Err(err).Str("schedule_id", s.ID).Msg("schedule skipped this tick")
		}
	}
	return fired, errors.Join(errs...)
}

// handle fires one schedule's due times under its advisory lock. The schedule is read from its
// stream, not the read model, which may trail the last fire.
func (t *Ticker) handle(ctx context.Context, id string, now time.Time) (int, error) {
	conn, err := t.DB.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	lock := dbq.TryScheduleLockParams{Class: advisoryLockClass, ScheduleID: id}
	locked, err := queries.TryScheduleLock(ctx, conn, lock)
	if err != nil {
		return 0, err
	}
	if !locked {
		return 0, nil // another instance is on it
	}
	defer func() {
		_ = queries.ReleaseScheduleLock(context.Background(), conn, dbq.ReleaseScheduleLockParams(lock))
	}()
	s, _, err := t.Repo.LoadSchedule(ctx, id)
	if err != nil {
		return 0, err
	}
	if s.Status != domain.ScheduleStatusActive || s.NextDueAt.IsZero() || s.NextDueAt.After(now) {
		return 0, nil
	}
	dues := append([]time.Time{s.NextDueAt}, scheduler.DueTimes(s.Spec, s.NextDueAt, now, maxMissedScan)...)
	if len(dues) > maxMissedScan {
		// The scan stopped short of now (months of a minutely schedule): these are all missed
		// whatever the policy; the next tick goes on from after them.
		return 0, t.miss(ctx, id, dues)
	}
	late := t.LateAfter
	if late <= 0 {
		late = time.Minute
	}
	if now.Sub(dues[0]) <= late {
		return t.fire(ctx, id, domain.TriggerScheduler, dues[0])
	}
	// Missed while no instance ran: the schedule's policy decides.
	switch s.Spec.MissedPolicy {
	case domain.MissedSkip:
		return 0, t.miss(ctx, id, dues)
	case domain.MissedRunAll:
		if len(dues) > domain.MaxCatchUp {
			if err := t.miss(ctx, id, dues[:len(dues)-domain.MaxCatchUp]); err != nil {
				return 0, err
			}
			dues = dues[len(dues)-domain.MaxCatchUp:]
		}
		fired := 0
		for _, d := range dues {
			n, err := t.fire(ctx, id, domain.TriggerRecovery, d)
			fired += n
			if err != nil {
				return fired, err
			}
		}
		return fired, nil
	default: // run_latest
		if len(dues) > 1 {
			if err := t.miss(ctx, id, dues[:len(dues)-1]); err != nil {
				return 0, err
			}
		}
		return t.fire(ctx, id, domain.TriggerRecovery, dues[len(dues)-1])
	}
}

func (t *Ticker) fire(ctx context.Context, id, trigger string, due time.Time) (int, error) {
	_, err := t.Bus.Send(ctx, &commands.FireSchedule{Envelope: commands.NewEnvelope(domain.System, ""), ScheduleID: id,
		RunID: uuid.NewString(), Trigger: trigger, FireKey: domain.TimeFireKey(due), DueAt: due})
	switch {
	case err == nil:
		return 1, nil
	case domain.ErrorCode(err) == domain.CodeConflict:
		return 0, nil // fired elsewhere, or the schedule changed meanwhile
	}
	return 0, err
}

func (t *Ticker) miss(ctx context.Context, id string, dues []time.Time) error {
	_, err := t.Bus.Send(ctx, &commands.MissSchedule{Envelope: commands.NewEnvelope(domain.System, ""), ScheduleID: id,
		First: dues[0], Last: dues[len(dues)-1], Count: len(dues)})
	if domain.ErrorCode(err) == domain.CodeConflict {
		return nil
	}
	return err
}
