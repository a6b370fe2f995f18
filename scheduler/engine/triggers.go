package engine

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/sql/dbq"
)

// EventTriggers is the process manager of event schedules. It follows the log like a
// projection (a consumer group whose every effect commits with its offset) and keeps its own
// table of which schedule waits for which event type, updated from the schedule events in log
// order, so a schedule created just before an event is already known when the event arrives.
// For each later event of a subscribed type it queues a ScheduleEventFire job in the same
// transaction as its ack: each (schedule, event) is fired once, even across crashes.
//
// It is run by its own projections.Runner and is not a read model: replaying it would fire
// the past again, so it is not among the projections a replay may rebuild.
type EventTriggers struct {
	Jobs   jobs.Inserter
	events *domain.Registry
	q      *dbq.Queries
}

// NewEventTriggers returns the process manager; jobs inserts inside the consumer's transaction.
func NewEventTriggers(events *domain.Registry, inserter jobs.Inserter) *EventTriggers {
	return &EventTriggers{Jobs: inserter, events: events, q: dbq.New()}
}

func (*EventTriggers) Name() string     { return "schedule_triggers" }
func (*EventTriggers) Tables() []string { return []string{"schedule_event_subscriptions"} }

func (p *EventTriggers) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType == domain.StreamTypeSchedule {
		return p.follow(ctx, q, e)
	}
	// The scheduler's own events never trigger schedules (validation refuses such types too),
	// nor do events a schedule's action caused: a schedule on task.created that runs a task
	// would otherwise fire itself forever.
	if strings.HasPrefix(e.Type, "schedule") || e.Metadata.Extra[MetadataScheduleRun] != "" {
		return nil
	}
	// Only the owner's own requests fire their schedules (the system's own events, appended by
	// workers, have the system as actor and fire nothing).
	matches, err := p.q.MatchingScheduleEventSubscriptions(ctx, q, dbq.MatchingScheduleEventSubscriptionsParams{EventType: e.Type,
		Actor: e.Metadata.Actor, Position: e.Position})
	if err != nil || len(matches) == 0 {
		return err
	}
	tx, ok := q.(*sql.Tx)
	if !ok {
		return errors.New("schedule triggers: not inside the consumer's transaction")
	}
	for _, id := range matches {
		_, err := p.Jobs.InsertTx(ctx, tx, commands.ScheduleEventFire{ScheduleID: id.String(), EventID: e.ID.String(), EventType: e.Type,
			Position: e.Position, OccurredAt: e.OccurredAt}, &river.InsertOpts{MaxAttempts: 25})
		if err != nil {
			return err
		}
	}
	return nil
}

// follow keeps the subscription table in step with a schedule's events. since_position is the
// position of the event that (re)activated the subscription: events before it were handled
// (or deliberately not) under the previous state.
func (p *EventTriggers) follow(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, "schedule-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	// Every schedule has a row, so its owner is known if an update makes it an event schedule;
	// only event schedules are active in it.
	subscribe := func(owner string, spec domain.ScheduleSpec, active bool) error {
		eventType := ""
		if spec.Type == domain.ScheduleEvent {
			eventType = spec.EventType
		}
		return p.q.UpsertScheduleEventSubscription(ctx, q, dbq.UpsertScheduleEventSubscriptionParams{ScheduleID: id, Owner: owner,
			EventType: eventType, Active: active && eventType != "", SincePosition: e.Position})
	}
	switch ev := ev.(type) {
	case *domain.ScheduleCreated:
		return subscribe(ev.Owner, ev.Spec, true)
	case *domain.ScheduleUpdated:
		// An update does not change whether the schedule is paused.
		active, err := p.q.ScheduleEventSubscriptionActive(ctx, q, id)
		if errors.Is(err, sql.ErrNoRows) {
			active, err = true, nil
		}
		if err != nil {
			return err
		}
		return subscribe("", ev.Spec, active)
	case *domain.SchedulePaused:
		return p.q.SetScheduleEventSubscriptionActive(ctx, q, dbq.SetScheduleEventSubscriptionActiveParams{ScheduleID: id, Active: false})
	case *domain.ScheduleResumed:
		return p.q.ResumeScheduleEventSubscription(ctx, q, dbq.ResumeScheduleEventSubscriptionParams{ScheduleID: id, SincePosition: e.Position})
	case *domain.ScheduleDeleted:
		return p.q.DeleteScheduleEventSubscription(ctx, q, id)
	}
	return nil
}

// MetadataScheduleRun marks the commands a schedule's action sends (and so their events) with
// the run that sent them.
const MetadataScheduleRun = "schedule_run_id"

func (p *EventTriggers) Checksum(ctx context.Context, q dbq.DBTX) (projections.Checksum, error) {
	var c projections.Checksum
	err := q.QueryRowContext(ctx, `SELECT count(*), md5(coalesce(string_agg(concat_ws('|', schedule_id::text, owner, event_type, active::text,
		since_position::text), E'\n' ORDER BY schedule_id), '')) FROM schedule_event_subscriptions`).Scan(&c.Rows, &c.Sum)
	return c, err
}
