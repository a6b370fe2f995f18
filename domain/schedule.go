package domain

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// A schedule (stream schedule-<id>) says when an action runs: on a cron expression in a time
// zone, every N seconds, once at a time, or whenever an event of a named type is appended to
// the log. Each time it is due, the scheduler fires it: schedule.fired names the due time, the
// run (stream schedule_run-<id>, see schedule_run.go) and the next due time. A time-based fire
// must name exactly the due time the schedule expects next, and the same fire key can only be
// claimed once (a unique row written with the event), so whatever the number of instances and
// crashes, each due time fires once.
//
// Time arithmetic (cron, zones) is package scheduler's; it hands the domain a ScheduleTimer, so
// the domain stays free of the cron library, and the next due time is recorded in the events
// rather than recomputed by readers.
const (
	StreamTypeSchedule = "schedule"

	EventScheduleCreated = "schedule.created"
	EventScheduleUpdated = "schedule.updated"
	EventSchedulePaused  = "schedule.paused"
	EventScheduleResumed = "schedule.resumed"
	EventScheduleDeleted = "schedule.deleted"
	EventScheduleFired   = "schedule.fired"
	// EventScheduleMissed records due times that passed while no instance ran and were not
	// run, by the schedule's missed-run policy.
	EventScheduleMissed = "schedule.missed"

	MaxScheduleNameLen        = 120
	MaxScheduleDescriptionLen = 2000
	MaxActionConfigBytes      = 64 << 10
	MinIntervalSec            = 60
	MaxIntervalSec            = 366 * 86400
	MaxScheduleRetries        = 10
	DefaultRetryDelaySec      = 300
	MaxRetryDelaySec          = 86400
	DefaultScheduleTimeoutSec = 3600
	MaxScheduleTimeoutSec     = 86400
	// MaxCatchUp bounds the missed due times the run_all policy runs after downtime.
	MaxCatchUp = 100
)

// Schedule types.
const (
	ScheduleCron     = "cron"
	ScheduleInterval = "interval"
	ScheduleOnce     = "once"
	ScheduleEvent    = "event"
)

// ScheduleTypes lists the schedule types, sorted.
var ScheduleTypes = []string{ScheduleCron, ScheduleEvent, ScheduleInterval, ScheduleOnce}

// Actions a schedule can run.
const (
	ActionRunTask          = "run_task"          // an agent's background task toward a goal
	ActionExecutePipeline  = "execute_pipeline"  // a run of a pipeline
	ActionSendNotification = "send_notification" // a webhook POST
	ActionCallAPI          = "call_api"          // an HTTP request
)

// ScheduleActions lists the actions, sorted.
var ScheduleActions = []string{ActionCallAPI, ActionExecutePipeline, ActionRunTask, ActionSendNotification}

// Missed-run policies: what the scheduler does with due times that passed while it was down.
const (
	MissedRunLatest = "run_latest" // run the latest missed due time once, record the others missed
	MissedRunAll    = "run_all"    // run each missed due time (at most MaxCatchUp), oldest first
	MissedSkip      = "skip"       // run none of them, record them missed
)

// Fire triggers.
const (
	TriggerScheduler = "scheduler" // the due time came
	TriggerRecovery  = "recovery"  // the due time passed while no instance ran
	TriggerManual    = "manual"    // a person asked (trigger now)
	TriggerEvent     = "event"     // an event of the schedule's type was appended
)

// ScheduleStreamID returns the log stream of one schedule.
func ScheduleStreamID(id string) string { return "schedule-" + id }

// ScheduleSpec is everything a person decides about a schedule.
type ScheduleSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	// Cron is a five-field cron expression (or a descriptor such as @daily) read in TimeZone.
	Cron string `json:"cron,omitempty"`
	// TimeZone is an IANA zone name for cron schedules; empty means UTC.
	TimeZone    string     `json:"time_zone,omitempty"`
	IntervalSec int        `json:"interval_sec,omitempty"`
	RunAt       *time.Time `json:"run_at,omitempty"`
	EventType   string     `json:"event_type,omitempty"`
	// StartAt and EndAt bound when the schedule may fire; MaxExecutions (0: no limit) how often.
	StartAt       *time.Time `json:"start_at,omitempty"`
	EndAt         *time.Time `json:"end_at,omitempty"`
	MaxExecutions int        `json:"max_executions,omitempty"`
	Action        string     `json:"action"`
	// ActionConfig is the action's settings, checked against its JSON Schema.
	ActionConfig json.RawMessage `json:"action_config"`
	// MaxRetries is how many times a failed run is tried again, RetryDelaySec apart.
	MaxRetries    int    `json:"max_retries"`
	RetryDelaySec int    `json:"retry_delay_sec"`
	TimeoutSec    int    `json:"timeout_sec"`
	MissedPolicy  string `json:"missed_policy"`
}

// ScheduleTimer is the time arithmetic the domain needs from package scheduler.
type ScheduleTimer interface {
	// Check reports what is wrong with the spec's timing (cron syntax, time zone) as field
	// errors (field "cron", "time_zone").
	Check(s ScheduleSpec) []FieldError
	// Next returns the first due time strictly after after, or the zero time when there is
	// none (a once schedule already past, the end date reached). Event schedules have none.
	Next(s ScheduleSpec, after time.Time) time.Time
}

// ActionChecker reports what is wrong with an action's config as field errors whose Field is a
// path inside the config ("url", "agent_id"); package scheduler's CheckAction is one.
type ActionChecker func(action string, config json.RawMessage) []FieldError

// NormalizeScheduleSpec trims text, lowercases names and fills defaults.
func NormalizeScheduleSpec(s ScheduleSpec) ScheduleSpec {
	s.Name = strings.TrimSpace(s.Name)
	s.Description = strings.TrimSpace(s.Description)
	s.Type = strings.ToLower(strings.TrimSpace(s.Type))
	s.Cron = strings.TrimSpace(s.Cron)
	s.TimeZone = strings.TrimSpace(s.TimeZone)
	s.EventType = strings.TrimSpace(s.EventType)
	s.Action = strings.ToLower(strings.TrimSpace(s.Action))
	s.MissedPolicy = strings.ToLower(strings.TrimSpace(s.MissedPolicy))
	if s.MissedPolicy == "" {
		s.MissedPolicy = MissedRunLatest
	}
	if s.RetryDelaySec == 0 {
		s.RetryDelaySec = DefaultRetryDelaySec
	}
	if s.TimeoutSec == 0 {
		s.TimeoutSec = DefaultScheduleTimeoutSec
	}
	if t := bytes.TrimSpace(s.ActionConfig); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		s.ActionConfig = json.RawMessage("{}")
	} else {
		var b bytes.Buffer
		if json.Compact(&b, s.ActionConfig) == nil {
			s.ActionConfig = b.Bytes()
		}
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	s.RunAt, s.StartAt, s.EndAt = utc(s.RunAt), utc(s.StartAt), utc(s.EndAt)
	return s
}

// ValidateScheduleSpec checks a normalized spec and lists every problem as a field error: the
// field the schedule's type needs is missing or invalid (cron, interval_sec, run_at,
// event_type), fields of other types are set, the action is unknown or its config breaks its
// schema (action_config.<path>), and bounds.
func ValidateScheduleSpec(s ScheduleSpec, timer ScheduleTimer, checkAction ActionChecker) error {
	var v Validation
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		v.Add("name", "is required")
	case n > MaxScheduleNameLen:
		v.Add("name", "must be at most %d characters (got %d)", MaxScheduleNameLen, n)
	case hasControl(s.Name):
		v.Add("name", "must not contain control characters")
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxScheduleDescriptionLen {
		v.Add("description", "must be at most %d characters (got %d)", MaxScheduleDescriptionLen, n)
	}
	notFor := func(field string, set bool) {
		if set {
			v.Add(field, "only applies to %s schedules", map[string]string{"cron": "cron", "time_zone": "cron",
				"interval_sec": "interval", "run_at": "once", "event_type": "event"}[field])
		}
	}
	switch s.Type {
	case ScheduleCron:
		if s.Cron == "" {
			v.Add("cron", "is required for a cron schedule (for example \"0 9 * * 1-5\")")
		}
		notFor("interval_sec", s.IntervalSec != 0)
		notFor("run_at", s.RunAt != nil)
		notFor("event_type", s.EventType != "")
	case ScheduleInterval:
		if s.IntervalSec < MinIntervalSec || s.IntervalSec > MaxIntervalSec {
			v.Add("interval_sec", "must be between %d and %d seconds (got %d)", MinIntervalSec, MaxIntervalSec, s.IntervalSec)
		}
		notFor("cron", s.Cron != "")
		notFor("time_zone", s.TimeZone != "")
		notFor("run_at", s.RunAt != nil)
		notFor("event_type", s.EventType != "")
	case ScheduleOnce:
		switch {
		case s.RunAt == nil:
			v.Add("run_at", "is required for a once schedule (an RFC 3339 time)")
		case s.StartAt != nil && s.RunAt.Before(*s.StartAt):
			v.Add("run_at", "must not be before start_at")
		case s.EndAt != nil && s.RunAt.After(*s.EndAt):
			v.Add("run_at", "must not be after end_at")
		}
		notFor("cron", s.Cron != "")
		notFor("time_zone", s.TimeZone != "")
		notFor("interval_sec", s.IntervalSec != 0)
		notFor("event_type", s.EventType != "")
	case ScheduleEvent:
		if s.EventType == "" {
			v.Add("event_type", "is required for an event schedule (an event type such as \"agent.created\")")
		} else if !eventTypePattern(s.EventType) {
			v.Add("event_type", "must be an event type such as \"agent.created\" (got %q)", s.EventType)
		} else if strings.HasPrefix(s.EventType, "schedule") {
			v.Add("event_type", "a schedule cannot fire on the scheduler's own events")
		}
		notFor("cron", s.Cron != "")
		notFor("time_zone", s.TimeZone != "")
		notFor("interval_sec", s.IntervalSec != 0)
		notFor("run_at", s.RunAt != nil)
	case "":
		v.Add("type", "is required; one of %s", strings.Join(ScheduleTypes, ", "))
	default:
		v.Add("type", "unknown type %q; one of %s", s.Type, strings.Join(ScheduleTypes, ", "))
	}
	if s.Type == ScheduleCron && s.Cron != "" && timer != nil {
		for _, fe := range timer.Check(s) {
			v.Add(fe.Field, "%s", fe.Message)
		}
	}
	if s.StartAt != nil && s.EndAt != nil && !s.EndAt.After(*s.StartAt) {
		v.Add("end_at", "must be after start_at")
	}
	if s.MaxExecutions < 0 {
		v.Add("max_executions", "must be 0 (no limit) or more (got %d)", s.MaxExecutions)
	}
	switch {
	case s.Action == "":
		v.Add("action", "is required; one of %s", strings.Join(ScheduleActions, ", "))
	case !contains(ScheduleActions, s.Action):
		v.Add("action", "unknown action %q; one of %s", s.Action, strings.Join(ScheduleActions, ", "))
	case len(s.ActionConfig) > MaxActionConfigBytes:
		v.Add("action_config", "must be at most %d bytes (got %d)", MaxActionConfigBytes, len(s.ActionConfig))
	case !isJSONObject(s.ActionConfig):
		v.Add("action_config", "must be a JSON object")
	case checkAction != nil:
		for _, fe := range checkAction(s.Action, s.ActionConfig) {
			v.Add(joinFieldPath("action_config", fe.Field), "%s", fe.Message)
		}
	}
	if s.MaxRetries < 0 || s.MaxRetries > MaxScheduleRetries {
		v.Add("max_retries", "must be between 0 and %d (got %d)", MaxScheduleRetries, s.MaxRetries)
	}
	if s.RetryDelaySec < 1 || s.RetryDelaySec > MaxRetryDelaySec {
		v.Add("retry_delay_sec", "must be between 1 and %d seconds (got %d)", MaxRetryDelaySec, s.RetryDelaySec)
	}
	if s.TimeoutSec < 1 || s.TimeoutSec > MaxScheduleTimeoutSec {
		v.Add("timeout_sec", "must be between 1 and %d seconds (got %d)", MaxScheduleTimeoutSec, s.TimeoutSec)
	}
	switch s.MissedPolicy {
	case MissedRunLatest, MissedRunAll, MissedSkip:
	default:
		v.Add("missed_policy", "must be run_latest, run_all or skip (got %q)", s.MissedPolicy)
	}
	return v.Err()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// eventTypePattern accepts "stream.event" names: lowercase words joined by dots and underscores.
func eventTypePattern(t string) bool {
	if len(t) > 100 || !strings.Contains(t, ".") {
		return false
	}
	for i, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return !strings.HasSuffix(t, ".") && !strings.Contains(t, "..")
}

// ScheduleStatus is where a schedule stands.
type ScheduleStatus string

const (
	ScheduleStatusActive ScheduleStatus = "active"
	ScheduleStatusPaused ScheduleStatus = "paused"
	// ScheduleStatusDone: a once schedule that fired, or a schedule past its end or its executions.
	ScheduleStatusDone    ScheduleStatus = "done"
	ScheduleStatusDeleted ScheduleStatus = "deleted"
)

// Schedule is the aggregate of one schedule.
type Schedule struct {
	ID         string
	Owner      string
	Spec       ScheduleSpec
	Status     ScheduleStatus
	NextDueAt  time.Time // zero when nothing is due any more (or for event schedules)
	LastDueAt  time.Time // the latest time-based due time fired or missed
	Executions int
	fired      map[string]bool // fire keys of manual and event fires, which the version check cannot order
	Version    int64
}

// Apply folds one event into the schedule.
func (s *Schedule) Apply(e Event) {
	s.Version++
	switch ev := e.(type) {
	case *ScheduleCreated:
		s.ID, s.Owner, s.Spec, s.Status, s.NextDueAt = ev.ID, ev.Owner, ev.Spec, ScheduleStatusActive, ev.NextDueAt
		s.fired = map[string]bool{}
	case *ScheduleUpdated:
		s.Spec, s.NextDueAt = ev.Spec, ev.NextDueAt
		if s.Status != ScheduleStatusPaused {
			s.Status = ScheduleStatusActive
			if ev.Done {
				s.Status = ScheduleStatusDone
			}
		}
	case *SchedulePaused:
		s.Status = ScheduleStatusPaused
	case *ScheduleResumed:
		s.Status, s.NextDueAt = ScheduleStatusActive, ev.NextDueAt
		if ev.Done {
			s.Status = ScheduleStatusDone
		}
	case *ScheduleDeleted:
		s.Status = ScheduleStatusDeleted
	case *ScheduleFired:
		s.Executions++
		s.fired[ev.FireKey] = true
		if ev.Trigger == TriggerScheduler || ev.Trigger == TriggerRecovery {
			s.LastDueAt, s.NextDueAt = ev.DueAt, ev.NextDueAt
		}
		if ev.Done {
			s.Status = ScheduleStatusDone
		}
	case *ScheduleMissed:
		s.LastDueAt, s.NextDueAt = ev.Last, ev.NextDueAt
		if ev.Done {
			s.Status = ScheduleStatusDone
		}
	}
}

// Exists reports whether the schedule was created and not deleted.
func (s *Schedule) Exists() bool { return s.Version > 0 && s.Status != ScheduleStatusDeleted }

// AccessibleBy: its owner or an admin.
func (s *Schedule) AccessibleBy(actor Actor) bool { return actor.IsAdmin() || actor.ID == s.Owner }

func (s *Schedule) authorize(actor Actor) error {
	if !s.Exists() {
		return Errorf(CodeNotFound, "schedule not found")
	}
	if !s.AccessibleBy(actor) {
		return Errorf(CodeForbidden, "only the schedule's owner or an admin may change it")
	}
	return nil
}

// firstDue is the first due time of spec at or after from (its start date taken into account).
func firstDue(spec ScheduleSpec, timer ScheduleTimer, from time.Time) time.Time {
	if spec.StartAt != nil && spec.StartAt.After(from) {
		from = *spec.StartAt
	}
	return timer.Next(spec, from.Add(-time.Nanosecond))
}

// nextDueFrom is the first due time of spec for a schedule defined, changed or resumed at now.
// A once schedule's time that has just passed stays due when keepOnce, so its run is not lost
// to the latency of the request (or to a rename at the wrong moment). Nothing at or before the
// last due time fired or missed is due again: its fire key is claimed, so it could never fire,
// and the schedule would wait on it for ever. (A clock a little behind the one that fired it
// is enough to get there.)
func (s *Schedule) nextDueFrom(spec ScheduleSpec, timer ScheduleTimer, now time.Time, keepOnce bool) time.Time {
	from := now
	if keepOnce && spec.Type == ScheduleOnce && spec.RunAt != nil && spec.RunAt.Before(from) {
		from = *spec.RunAt
	}
	if !s.LastDueAt.IsZero() && !from.After(s.LastDueAt) {
		from = s.LastDueAt.Add(time.Nanosecond)
	}
	return firstDue(spec, timer, from)
}

// doneWith reports whether a schedule with spec, next due at next, has nothing left to run: a
// time-based one with no due time left, or any with its executions used up.
func (s *Schedule) doneWith(spec ScheduleSpec, next time.Time) bool {
	return (spec.Type != ScheduleEvent && next.IsZero()) || (spec.MaxExecutions > 0 && s.Executions >= spec.MaxExecutions)
}

// Create decides whether a schedule may be defined; now is when its due times start.
func (s *Schedule) Create(actor Actor, id string, spec ScheduleSpec, timer ScheduleTimer, checkAction ActionChecker, now time.Time) ([]Event, error) {
	if s.Version > 0 {
		return nil, Errorf(CodeConflict, "schedule %s already exists", id)
	}
	spec = NormalizeScheduleSpec(spec)
	if err := ValidateScheduleSpec(spec, timer, checkAction); err != nil {
		return nil, err
	}
	if spec.Type == ScheduleOnce && spec.RunAt.Before(now.Add(-time.Minute)) {
		return nil, fieldErr("run_at", "is in the past")
	}
	next := s.nextDueFrom(spec, timer, now, true)
	if spec.Type != ScheduleEvent && next.IsZero() {
		return nil, fieldErr("end_at", "leaves the schedule no due time")
	}
	return []Event{&ScheduleCreated{ID: id, Owner: actor.ID, Spec: spec, NextDueAt: next}}, nil
}

// Update replaces the spec; the next due time is computed afresh from now (see nextDueFrom),
// and a spec that leaves nothing to run makes the schedule done.
func (s *Schedule) Update(actor Actor, spec ScheduleSpec, timer ScheduleTimer, checkAction ActionChecker, now time.Time) ([]Event, error) {
	if err := s.authorize(actor); err != nil {
		return nil, err
	}
	spec = NormalizeScheduleSpec(spec)
	if err := ValidateScheduleSpec(spec, timer, checkAction); err != nil {
		return nil, err
	}
	ja, _ := json.Marshal(s.Spec)
	jb, _ := json.Marshal(spec)
	if bytes.Equal(ja, jb) {
		return nil, nil
	}
	movedRunAt := spec.Type == ScheduleOnce && (s.Spec.RunAt == nil || !spec.RunAt.Equal(*s.Spec.RunAt))
	if movedRunAt && spec.RunAt.Before(now.Add(-time.Minute)) {
		return nil, fieldErr("run_at", "is in the past")
	}
	ev := &ScheduleUpdated{Spec: spec, NextDueAt: s.nextDueFrom(spec, timer, now, true)}
	ev.Done = s.Status != ScheduleStatusPaused && s.doneWith(spec, ev.NextDueAt)
	return []Event{ev}, nil
}

// Pause stops the schedule firing until it is resumed.
func (s *Schedule) Pause(actor Actor) ([]Event, error) {
	if err := s.authorize(actor); err != nil {
		return nil, err
	}
	switch s.Status {
	case ScheduleStatusPaused:
		return nil, nil
	case ScheduleStatusDone:
		return nil, Errorf(CodeConflict, "the schedule is done")
	}
	return []Event{&SchedulePaused{}}, nil
}

// Resume starts a paused schedule again from now: what fell due while it was paused is not
// run.
func (s *Schedule) Resume(actor Actor, timer ScheduleTimer, now time.Time) ([]Event, error) {
	if err := s.authorize(actor); err != nil {
		return nil, err
	}
	if s.Status != ScheduleStatusPaused {
		return nil, Errorf(CodeConflict, "the schedule is %s, not paused", s.Status)
	}
	ev := &ScheduleResumed{NextDueAt: s.nextDueFrom(s.Spec, timer, now, false)}
	ev.Done = s.doneWith(s.Spec, ev.NextDueAt)
	return []Event{ev}, nil
}

// Delete retires the schedule; its runs in progress finish.
func (s *Schedule) Delete(actor Actor) ([]Event, error) {
	if err := s.authorize(actor); err != nil {
		return nil, err
	}
	return []Event{&ScheduleDeleted{}}, nil
}

// Fire decides whether the schedule runs now, as run runID.
//
//   - scheduler and recovery fires name a time-based due time, which must be exactly the one
//     expected next (so a due time fires once, and in order); the schedule must be active;
//   - event fires name the appended event (fireKey "event:<event id>"), for an active event
//     schedule;
//   - manual fires (trigger now) are allowed active or paused; they leave the due times alone.
//
// The fire key can be claimed once (the command also claims it in a unique row). The end
// date and the execution limit make the fire the last one (Done) or refuse it.
func (s *Schedule) Fire(actor Actor, runID, trigger, fireKey string, dueAt time.Time, timer ScheduleTimer) ([]Event, error) {
	if !s.Exists() {
		return nil, Errorf(CodeNotFound, "schedule not found")
	}
	if trigger == TriggerManual && !s.AccessibleBy(actor) {
		return nil, Errorf(CodeForbidden, "only the schedule's owner or an admin may trigger it")
	}
	if s.fired[fireKey] {
		return nil, Errorf(CodeConflict, "%s already fired", fireKey)
	}
	switch trigger {
	case TriggerScheduler, TriggerRecovery:
		if s.Status != ScheduleStatusActive {
			return nil, Errorf(CodeConflict, "the schedule is %s", s.Status)
		}
		if s.NextDueAt.IsZero() || !dueAt.Equal(s.NextDueAt) {
			return nil, Errorf(CodeConflict, "the schedule's next due time is %s, not %s", s.NextDueAt.Format(time.RFC3339), dueAt.Format(time.RFC3339))
		}
	case TriggerEvent:
		if s.Status != ScheduleStatusActive || s.Spec.Type != ScheduleEvent {
			return nil, Errorf(CodeConflict, "the schedule is not an active event schedule")
		}
	case TriggerManual:
		if s.Status == ScheduleStatusDone {
			return nil, Errorf(CodeConflict, "the schedule is done")
		}
	default:
		return nil, Errorf(CodeInvalid, "unknown trigger %q", trigger)
	}
	if s.Spec.EndAt != nil && dueAt.After(*s.Spec.EndAt) && trigger != TriggerManual {
		return nil, Errorf(CodeConflict, "the schedule ended at %s", s.Spec.EndAt.Format(time.RFC3339))
	}
	if max := s.Spec.MaxExecutions; max > 0 && s.Executions >= max {
		return nil, Errorf(CodeConflict, "the schedule has run its %d executions", max)
	}
	ev := &ScheduleFired{RunID: runID, Trigger: trigger, FireKey: fireKey, DueAt: dueAt.UTC(), NextDueAt: s.NextDueAt}
	if trigger == TriggerScheduler || trigger == TriggerRecovery {
		ev.NextDueAt = timer.Next(s.Spec, dueAt)
		if s.Spec.EndAt != nil && ev.NextDueAt.After(*s.Spec.EndAt) {
			ev.NextDueAt = time.Time{}
		}
	}
	last := s.Spec.MaxExecutions > 0 && s.Executions+1 >= s.Spec.MaxExecutions
	if last || (s.Spec.Type != ScheduleEvent && ev.NextDueAt.IsZero() && trigger != TriggerManual) {
		ev.Done, ev.NextDueAt = true, time.Time{}
	}
	return []Event{ev}, nil
}

// Miss records that the due times from the expected next one up to last passed without a run
// (count of them), by the missed-run policy; the schedule goes on after last.
func (s *Schedule) Miss(first, last time.Time, count int, timer ScheduleTimer) ([]Event, error) {
	if !s.Exists() || s.Status != ScheduleStatusActive {
		return nil, Errorf(CodeConflict, "the schedule is not active")
	}
	if s.NextDueAt.IsZero() || !first.Equal(s.NextDueAt) || last.Before(first) || count < 1 {
		return nil, Errorf(CodeConflict, "the missed due times must start at the next due time %s", s.NextDueAt.Format(time.RFC3339))
	}
	next := timer.Next(s.Spec, last)
	if s.Spec.EndAt != nil && next.After(*s.Spec.EndAt) {
		next = time.Time{}
	}
	return []Event{&ScheduleMissed{First: first.UTC(), Last: last.UTC(), Count: count, Policy: s.Spec.MissedPolicy, NextDueAt: next,
		Done: next.IsZero()}}, nil
}

type ScheduleCreated struct {
	ID        string       `json:"id"`
	Owner     string       `json:"owner"`
	Spec      ScheduleSpec `json:"spec"`
	NextDueAt time.Time    `json:"next_due_at"`
}

func (*ScheduleCreated) EventType() string { return EventScheduleCreated }

type ScheduleUpdated struct {
	Spec      ScheduleSpec `json:"spec"`
	NextDueAt time.Time    `json:"next_due_at"`
	// Done: the new spec leaves nothing to run (its end passed, its executions are used up).
	Done bool `json:"done,omitempty"`
}

func (*ScheduleUpdated) EventType() string { return EventScheduleUpdated }

type SchedulePaused struct{}

func (*SchedulePaused) EventType() string { return EventSchedulePaused }

type ScheduleResumed struct {
	NextDueAt time.Time `json:"next_due_at"`
	// Done: what was left fell due while the schedule was paused.
	Done bool `json:"done,omitempty"`
}

func (*ScheduleResumed) EventType() string { return EventScheduleResumed }

type ScheduleDeleted struct{}

func (*ScheduleDeleted) EventType() string { return EventScheduleDeleted }

// ScheduleFired starts run RunID for the due time DueAt.
type ScheduleFired struct {
	RunID   string    `json:"run_id"`
	Trigger string    `json:"trigger"`
	FireKey string    `json:"fire_key"`
	DueAt   time.Time `json:"due_at"`
	// NextDueAt is the schedule's next due time after this fire (zero: none).
	NextDueAt time.Time `json:"next_due_at"`
	// Done: this was the schedule's last fire.
	Done bool `json:"done,omitempty"`
}

func (*ScheduleFired) EventType() string { return EventScheduleFired }

type ScheduleMissed struct {
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Count     int       `json:"count"`
	Policy    string    `json:"policy"`
	NextDueAt time.Time `json:"next_due_at"`
	// Done: no due time is left after the missed ones.
	Done bool `json:"done,omitempty"`
}

func (*ScheduleMissed) EventType() string { return EventScheduleMissed }

// TimeFireKey is the fire key of a time-based due time.
func TimeFireKey(due time.Time) string { return "due:" + due.UTC().Format(time.RFC3339Nano) }

func scheduleEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventScheduleCreated, func() Event { return &ScheduleCreated{} }),
		spec(EventScheduleUpdated, func() Event { return &ScheduleUpdated{} }),
		spec(EventSchedulePaused, func() Event { return &SchedulePaused{} }),
		spec(EventScheduleResumed, func() Event { return &ScheduleResumed{} }),
		spec(EventScheduleDeleted, func() Event { return &ScheduleDeleted{} }),
		spec(EventScheduleFired, func() Event { return &ScheduleFired{} }),
		spec(EventScheduleMissed, func() Event { return &ScheduleMissed{} }),
		spec(EventScheduleRunStarted, func() Event { return &ScheduleRunStarted{} }),
		spec(EventScheduleRunAttemptStarted, func() Event { return &ScheduleRunAttemptStarted{} }),
		spec(EventScheduleRunAttemptFailed, func() Event { return &ScheduleRunAttemptFailed{} }),
		spec(EventScheduleRunSucceeded, func() Event { return &ScheduleRunSucceeded{} }),
		spec(EventScheduleRunFailed, func() Event { return &ScheduleRunFailed{} }),
	}
}
