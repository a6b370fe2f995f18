package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/scheduler"
)

var (
	schedOwner    = domain.Actor{ID: "owner-1", Role: domain.RoleMember}
	schedAdmin    = domain.Actor{ID: "admin-1", Role: domain.RoleAdmin}
	schedStranger = domain.Actor{ID: "someone-else", Role: domain.RoleMember}
	timer         scheduler.Timer
	// schedNow is a Monday morning, an hour before the 09:00 due times of the tests.
	schedNow = time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
)

const schedAgentID = "0b8e6c2e-5d4a-4f6e-9b1a-2f3c4d5e6f70"

func at(day, hour, minute int) time.Time {
	return time.Date(2027, 1, day, hour, minute, 0, 0, time.UTC)
}

func timePtr(t time.Time) *time.Time { return &t }

func dailyAtNine() domain.ScheduleSpec {
	return domain.ScheduleSpec{
		Name: "Morning digest", Type: domain.ScheduleCron, Cron: "0 9 * * *",
		Action: domain.ActionRunTask, ActionConfig: json.RawMessage(`{"agent_id":"` + schedAgentID + `","goal":"Summarize the news"}`),
	}
}

// schedHarness drives a schedule the way the commands do: decide, then fold what was decided.
type schedHarness struct {
	t   *testing.T
	s   *domain.Schedule
	log []domain.Event
}

func newSchedule(t *testing.T, spec domain.ScheduleSpec) *schedHarness {
	t.Helper()
	h := &schedHarness{t: t, s: &domain.Schedule{}}
	h.must(h.s.Create(schedOwner, "s1", spec, timer, scheduler.CheckAction, schedNow))
	return h
}

func (h *schedHarness) must(events []domain.Event, err error) []domain.Event {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range events {
		h.s.Apply(e)
	}
	h.log = append(h.log, events...)
	return events
}

// fire fires the schedule's next due time as the scheduler does.
func (h *schedHarness) fire(runID string) *domain.ScheduleFired {
	h.t.Helper()
	due := h.s.NextDueAt
	events := h.must(h.s.Fire(domain.System, runID, domain.TriggerScheduler, domain.TimeFireKey(due), due, timer))
	return events[0].(*domain.ScheduleFired)
}

func (h *schedHarness) status(want domain.ScheduleStatus, next time.Time) {
	h.t.Helper()
	if h.s.Status != want || !h.s.NextDueAt.Equal(next) {
		h.t.Fatalf("schedule %s next due %s, want %s next due %s", h.s.Status, h.s.NextDueAt, want, next)
	}
}

func fieldErrors(t *testing.T, err error) []domain.FieldError {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Fatalf("want an invalid error, got %v", err)
	}
	return de.Fields
}

func validate(spec domain.ScheduleSpec) error {
	return domain.ValidateScheduleSpec(domain.NormalizeScheduleSpec(spec), timer, scheduler.CheckAction)
}

func TestValidateScheduleSpecAcceptsEveryType(t *testing.T) {
	cron := dailyAtNine()
	cron.TimeZone = "Europe/Paris"
	interval := dailyAtNine()
	interval.Type, interval.Cron, interval.IntervalSec = domain.ScheduleInterval, "", 60
	once := dailyAtNine()
	once.Type, once.Cron, once.RunAt = domain.ScheduleOnce, "", timePtr(at(5, 12, 0))
	event := dailyAtNine()
	event.Type, event.Cron, event.EventType = domain.ScheduleEvent, "", "agent.created"
	notify := dailyAtNine()
	notify.Action, notify.ActionConfig = domain.ActionSendNotification, json.RawMessage(`{"url":"https://hooks.example.com/x"}`)
	bounded := dailyAtNine()
	bounded.StartAt, bounded.EndAt, bounded.MaxExecutions = timePtr(at(10, 0, 0)), timePtr(at(20, 0, 0)), 5
	bounded.MaxRetries, bounded.RetryDelaySec, bounded.TimeoutSec, bounded.MissedPolicy = 10, 86400, 86400, "RUN_ALL"
	for name, spec := range map[string]domain.ScheduleSpec{"cron": cron, "interval": interval, "once": once, "event": event, "notify": notify, "bounded": bounded} {
		if err := validate(spec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateScheduleSpecNamesTheFieldAtFault(t *testing.T) {
	cases := []struct {
		name   string
		change func(*domain.ScheduleSpec)
		want   []fe
	}{
		{"cron missing", func(s *domain.ScheduleSpec) { s.Cron = "" },
			[]fe{{"cron", `is required for a cron schedule (for example "0 9 * * 1-5")`}}},
		{"cron invalid", func(s *domain.ScheduleSpec) { s.Cron = "0 9 * *" },
			[]fe{{"cron", "must have 5 fields (minute hour day-of-month month day-of-week), found 4"}}},
		{"cron out of range", func(s *domain.ScheduleSpec) { s.Cron = "0 24 * * *" },
			[]fe{{"cron", `hour field "24": 24 is above the maximum 23`}}},
		{"time zone unknown", func(s *domain.ScheduleSpec) { s.TimeZone = "Europe/Atlantis" },
			[]fe{{"time_zone", `unknown time zone "Europe/Atlantis"; use an IANA name such as "UTC", "Europe/Paris" or "America/New_York"`}}},
		{"interval missing", func(s *domain.ScheduleSpec) { s.Type, s.Cron = domain.ScheduleInterval, "" },
			[]fe{{"interval_sec", "must be between 60 and 31622400 seconds (got 0)"}}},
		{"interval below a minute", func(s *domain.ScheduleSpec) { s.Type, s.Cron, s.IntervalSec = domain.ScheduleInterval, "", 59 },
			[]fe{{"interval_sec", "must be between 60 and 31622400 seconds (got 59)"}}},
		{"run_at missing", func(s *domain.ScheduleSpec) { s.Type, s.Cron = domain.ScheduleOnce, "" },
			[]fe{{"run_at", "is required for a once schedule (an RFC 3339 time)"}}},
		{"run_at before start_at", func(s *domain.ScheduleSpec) {
			s.Type, s.Cron, s.RunAt, s.StartAt = domain.ScheduleOnce, "", timePtr(at(5, 0, 0)), timePtr(at(6, 0, 0))
		}, []fe{{"run_at", "must not be before start_at"}}},
		{"run_at after end_at", func(s *domain.ScheduleSpec) {
			s.Type, s.Cron, s.RunAt, s.EndAt = domain.ScheduleOnce, "", timePtr(at(7, 0, 0)), timePtr(at(6, 0, 0))
		}, []fe{{"run_at", "must not be after end_at"}}},
		{"event_type missing", func(s *domain.ScheduleSpec) { s.Type, s.Cron = domain.ScheduleEvent, "" },
			[]fe{{"event_type", `is required for an event schedule (an event type such as "agent.created")`}}},
		{"event_type malformed", func(s *domain.ScheduleSpec) { s.Type, s.Cron, s.EventType = domain.ScheduleEvent, "", "Agent Created" },
			[]fe{{"event_type", `must be an event type such as "agent.created" (got "Agent Created")`}}},
		{"event_type of the scheduler", func(s *domain.ScheduleSpec) { s.Type, s.Cron, s.EventType = domain.ScheduleEvent, "", "schedule.fired" },
			[]fe{{"event_type", "a schedule cannot fire on the scheduler's own events"}}},
		{"event_type of a run", func(s *domain.ScheduleSpec) {
			s.Type, s.Cron, s.EventType = domain.ScheduleEvent, "", "schedule_run.succeeded"
		}, []fe{{"event_type", "a schedule cannot fire on the scheduler's own events"}}},
		{"fields of other types on cron", func(s *domain.ScheduleSpec) {
			s.IntervalSec, s.RunAt, s.EventType = 60, timePtr(at(5, 0, 0)), "agent.created"
		}, []fe{
			{"interval_sec", "only applies to interval schedules"},
			{"run_at", "only applies to once schedules"},
			{"event_type", "only applies to event schedules"},
		}},
		{"fields of other types on interval", func(s *domain.ScheduleSpec) {
			s.Type, s.IntervalSec, s.TimeZone = domain.ScheduleInterval, 60, "UTC"
		}, []fe{{"cron", "only applies to cron schedules"}, {"time_zone", "only applies to cron schedules"}}},
		{"fields of other types on once", func(s *domain.ScheduleSpec) {
			s.Type, s.Cron, s.RunAt, s.IntervalSec = domain.ScheduleOnce, "", timePtr(at(5, 0, 0)), 60
		}, []fe{{"interval_sec", "only applies to interval schedules"}}},
		{"fields of other types on event", func(s *domain.ScheduleSpec) {
			s.Type, s.EventType, s.RunAt = domain.ScheduleEvent, "agent.created", timePtr(at(5, 0, 0))
		}, []fe{{"cron", "only applies to cron schedules"}, {"run_at", "only applies to once schedules"}}},
		{"type missing", func(s *domain.ScheduleSpec) { s.Type, s.Cron = "", "" },
			[]fe{{"type", "is required; one of cron, event, interval, once"}}},
		{"type unknown", func(s *domain.ScheduleSpec) { s.Type = "weekly" },
			[]fe{{"type", `unknown type "weekly"; one of cron, event, interval, once`}}},
		{"action missing", func(s *domain.ScheduleSpec) { s.Action = "" },
			[]fe{{"action", "is required; one of call_api, execute_pipeline, run_task, send_notification"}}},
		{"action unknown", func(s *domain.ScheduleSpec) { s.Action = "shell" },
			[]fe{{"action", `unknown action "shell"; one of call_api, execute_pipeline, run_task, send_notification`}}},
		{"action_config not an object", func(s *domain.ScheduleSpec) { s.ActionConfig = json.RawMessage(`[1]`) },
			[]fe{{"action_config", "must be a JSON object"}}},
		{"action_config missing", func(s *domain.ScheduleSpec) { s.ActionConfig = nil },
			[]fe{{"action_config.agent_id", "is required"}, {"action_config.goal", "is required"}}},
		{"action_config breaks its schema", func(s *domain.ScheduleSpec) {
			s.ActionConfig = json.RawMessage(`{"agent_id":"a1","goal":"x","temperature":1}`)
		}, []fe{
			{"action_config.agent_id", `must be a valid uuid (got "a1")`},
			{"action_config.temperature", "unknown property; allowed: agent_id, goal, max_steps"},
		}},
		{"action_config nested path", func(s *domain.ScheduleSpec) {
			s.Action, s.ActionConfig = domain.ActionCallAPI, json.RawMessage(`{"url":"https://example.com","expect_status":[200,700],"headers":{"A":1}}`)
		}, []fe{
			{"action_config.expect_status[1]", "must be at most 599 (got 700)"},
			{"action_config.headers.A", "must be a string (got a number)"},
		}},
		{"action_config too large", func(s *domain.ScheduleSpec) {
			s.ActionConfig = json.RawMessage(`{"goal":"` + strings.Repeat("x", domain.MaxActionConfigBytes) + `"}`)
		}, []fe{{"action_config", "must be at most 65536 bytes (got 65547)"}}},
		{"max_retries negative", func(s *domain.ScheduleSpec) { s.MaxRetries = -1 },
			[]fe{{"max_retries", "must be between 0 and 10 (got -1)"}}},
		{"max_retries too many", func(s *domain.ScheduleSpec) { s.MaxRetries = 11 },
			[]fe{{"max_retries", "must be between 0 and 10 (got 11)"}}},
		{"retry_delay_sec negative", func(s *domain.ScheduleSpec) { s.RetryDelaySec = -1 },
			[]fe{{"retry_delay_sec", "must be between 1 and 86400 seconds (got -1)"}}},
		{"retry_delay_sec too long", func(s *domain.ScheduleSpec) { s.RetryDelaySec = 86401 },
			[]fe{{"retry_delay_sec", "must be between 1 and 86400 seconds (got 86401)"}}},
		{"timeout_sec negative", func(s *domain.ScheduleSpec) { s.TimeoutSec = -5 },
			[]fe{{"timeout_sec", "must be between 1 and 86400 seconds (got -5)"}}},
		{"timeout_sec too long", func(s *domain.ScheduleSpec) { s.TimeoutSec = 86401 },
			[]fe{{"timeout_sec", "must be between 1 and 86400 seconds (got 86401)"}}},
		{"missed_policy unknown", func(s *domain.ScheduleSpec) { s.MissedPolicy = "sometimes" },
			[]fe{{"missed_policy", `must be run_latest, run_all or skip (got "sometimes")`}}},
		{"end_at before start_at", func(s *domain.ScheduleSpec) { s.StartAt, s.EndAt = timePtr(at(10, 0, 0)), timePtr(at(9, 0, 0)) },
			[]fe{{"end_at", "must be after start_at"}}},
		{"end_at at start_at", func(s *domain.ScheduleSpec) { s.StartAt, s.EndAt = timePtr(at(10, 0, 0)), timePtr(at(10, 0, 0)) },
			[]fe{{"end_at", "must be after start_at"}}},
		{"max_executions negative", func(s *domain.ScheduleSpec) { s.MaxExecutions = -1 },
			[]fe{{"max_executions", "must be 0 (no limit) or more (got -1)"}}},
		{"name missing", func(s *domain.ScheduleSpec) { s.Name = "  " }, []fe{{"name", "is required"}}},
		{"name too long", func(s *domain.ScheduleSpec) { s.Name = strings.Repeat("n", 121) },
			[]fe{{"name", "must be at most 120 characters (got 121)"}}},
	}
	for _, c := range cases {
		spec := dailyAtNine()
		c.change(&spec)
		err := validate(spec)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if got := plain(fieldErrors(t, err)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestValidateScheduleSpecListsEveryProblemAtOnce(t *testing.T) {
	spec := domain.ScheduleSpec{
		Type: "interval", IntervalSec: 30, Cron: "* * * * *", Action: domain.ActionCallAPI,
		ActionConfig: json.RawMessage(`{"url":"ftp://x","method":"get"}`), MaxRetries: 99, RetryDelaySec: -1,
		TimeoutSec: 100000, MissedPolicy: "never", StartAt: timePtr(at(9, 0, 0)), EndAt: timePtr(at(8, 0, 0)),
	}
	err := validate(spec)
	var fields []string
	for _, f := range fieldErrors(t, err) {
		fields = append(fields, f.Field)
	}
	want := []string{"name", "interval_sec", "cron", "end_at", "action_config.method", "action_config.url",
		"max_retries", "retry_delay_sec", "timeout_sec", "missed_policy"}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields:\n got %q\nwant %q", fields, want)
	}
	if msg := domain.ErrorMessage(err); msg != "name: is required (and 9 more)" {
		t.Fatalf("message: %q", msg)
	}
}

func TestCreateNormalizesTheSpecAndSetsTheFirstDueTime(t *testing.T) {
	spec := dailyAtNine()
	spec.Type, spec.Action, spec.Name = " CRON ", "Run_Task", "  Morning digest "
	spec.ActionConfig = json.RawMessage("{\n  \"agent_id\": \"" + schedAgentID + "\",\n  \"goal\": \"Summarize the news\"\n}")
	h := newSchedule(t, spec)
	s := h.s
	if s.ID != "s1" || s.Owner != schedOwner.ID || s.Spec.Name != "Morning digest" || s.Spec.Type != domain.ScheduleCron ||
		s.Spec.Action != domain.ActionRunTask || s.Spec.MissedPolicy != domain.MissedRunLatest ||
		s.Spec.RetryDelaySec != domain.DefaultRetryDelaySec || s.Spec.TimeoutSec != domain.DefaultScheduleTimeoutSec ||
		string(s.Spec.ActionConfig) != `{"agent_id":"`+schedAgentID+`","goal":"Summarize the news"}` {
		t.Fatalf("schedule: %+v", s)
	}
	h.status(domain.ScheduleStatusActive, at(4, 9, 0))
	if !s.Exists() || s.Version != 1 {
		t.Fatalf("exists %v version %d", s.Exists(), s.Version)
	}
	refusedWith(t, domain.CodeConflict)(s.Create(schedOwner, "s1", dailyAtNine(), timer, scheduler.CheckAction, schedNow))

	// A due time exactly at the moment of creation is due.
	var exact domain.Schedule
	events, err := exact.Create(schedOwner, "s2", dailyAtNine(), timer, scheduler.CheckAction, at(4, 9, 0))
	if err != nil || !events[0].(*domain.ScheduleCreated).NextDueAt.Equal(at(4, 9, 0)) {
		t.Fatalf("created at 09:00: %v %v", events, err)
	}

	// The start date defers the first due time.
	later := dailyAtNine()
	later.StartAt = timePtr(at(10, 12, 0))
	newSchedule(t, later).status(domain.ScheduleStatusActive, at(11, 9, 0))

	// An event schedule has no due time.
	event := dailyAtNine()
	event.Type, event.Cron, event.EventType = domain.ScheduleEvent, "", "agent.created"
	newSchedule(t, event).status(domain.ScheduleStatusActive, time.Time{})

	var invalid domain.Schedule
	events, err = invalid.Create(schedOwner, "s3", domain.ScheduleSpec{Name: "x"}, timer, scheduler.CheckAction, schedNow)
	if fieldErrors(t, err) == nil || events != nil {
		t.Fatal("an invalid spec was created")
	}
}

func TestCreateOnceSchedule(t *testing.T) {
	once := dailyAtNine()
	once.Type, once.Cron, once.RunAt = domain.ScheduleOnce, "", timePtr(schedNow.Add(2*time.Hour))
	newSchedule(t, once).status(domain.ScheduleStatusActive, schedNow.Add(2*time.Hour))

	// Up to a minute late, the time still runs (at once) rather than never.
	once.RunAt = timePtr(schedNow.Add(-30 * time.Second))
	newSchedule(t, once).status(domain.ScheduleStatusActive, schedNow.Add(-30*time.Second))

	once.RunAt = timePtr(schedNow.Add(-2 * time.Minute))
	var past domain.Schedule
	events, err := past.Create(schedOwner, "s1", once, timer, scheduler.CheckAction, schedNow)
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, []domain.FieldError{{Field: "run_at", Message: "is in the past"}}) || events != nil {
		t.Fatalf("past: %q", got)
	}
}

func TestCreateRefusesAScheduleThatWouldNeverBeDue(t *testing.T) {
	ended := dailyAtNine()
	ended.EndAt = timePtr(schedNow.Add(-time.Hour))
	var s domain.Schedule
	_, err := s.Create(schedOwner, "s1", ended, timer, scheduler.CheckAction, schedNow)
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, []domain.FieldError{{Field: "end_at", Message: "leaves the schedule no due time"}}) {
		t.Fatalf("ended: %q", got)
	}
	ended.EndAt = timePtr(at(4, 8, 30)) // after now, before the first 09:00
	_, err = s.Create(schedOwner, "s1", ended, timer, scheduler.CheckAction, schedNow)
	if got := fieldErrors(t, err); len(got) != 1 || got[0].Field != "end_at" {
		t.Fatalf("ends before its first due time: %q", got)
	}
}

func refusedWith(t *testing.T, want domain.Code) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		t.Helper()
		if domain.ErrorCode(err) != want || events != nil {
			t.Fatalf("want %s, got %v (events %v)", want, err, events)
		}
	}
}

func TestOnlyTheOwnerOrAnAdminChangesASchedule(t *testing.T) {
	renamed := dailyAtNine()
	renamed.Name = "Renamed"
	for _, actor := range []domain.Actor{schedOwner, schedAdmin} {
		h := newSchedule(t, dailyAtNine())
		h.must(h.s.Update(actor, renamed, timer, scheduler.CheckAction, schedNow))
		h.must(h.s.Pause(actor))
		h.must(h.s.Resume(actor, timer, schedNow))
		h.must(h.s.Delete(actor))
		if h.s.Spec.Name != "Renamed" || h.s.Status != domain.ScheduleStatusDeleted || h.s.Exists() {
			t.Fatalf("%s: %+v", actor.ID, h.s)
		}
		if h.s.Owner != schedOwner.ID {
			t.Fatalf("owner changed to %s", h.s.Owner)
		}
	}

	h := newSchedule(t, dailyAtNine())
	forbidden := refusedWith(t, domain.CodeForbidden)
	forbidden(h.s.Update(schedStranger, renamed, timer, scheduler.CheckAction, schedNow))
	forbidden(h.s.Pause(schedStranger))
	forbidden(h.s.Delete(schedStranger))
	forbidden(h.s.Fire(schedStranger, "r1", domain.TriggerManual, "manual:r1", schedNow, timer))
	h.must(h.s.Pause(schedOwner))
	forbidden(h.s.Resume(schedStranger, timer, schedNow))

	var missing domain.Schedule
	notFound := refusedWith(t, domain.CodeNotFound)
	notFound(missing.Update(schedOwner, renamed, timer, scheduler.CheckAction, schedNow))
	notFound(missing.Pause(schedOwner))
	notFound(missing.Resume(schedOwner, timer, schedNow))
	notFound(missing.Delete(schedOwner))
	notFound(missing.Fire(domain.System, "r1", domain.TriggerScheduler, "due:x", schedNow, timer))

	h.must(h.s.Delete(schedAdmin))
	notFound(h.s.Update(schedOwner, renamed, timer, scheduler.CheckAction, schedNow))
	notFound(h.s.Pause(schedOwner))
	notFound(h.s.Delete(schedOwner))
	notFound(h.s.Fire(schedOwner, "r1", domain.TriggerManual, "manual:r1", schedNow, timer))
}

func TestUpdatePauseAndResume(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	if events, err := h.s.Update(schedOwner, dailyAtNine(), timer, scheduler.CheckAction, schedNow); err != nil || events != nil {
		t.Fatalf("an unchanged spec records nothing: %v %v", events, err)
	}
	weekdays := dailyAtNine()
	weekdays.Cron = "30 7 * * 1-5"
	ev := h.must(h.s.Update(schedOwner, weekdays, timer, scheduler.CheckAction, at(4, 7, 45)))[0].(*domain.ScheduleUpdated)
	if ev.Done || h.s.Spec.Cron != "30 7 * * 1-5" {
		t.Fatalf("updated: %+v", ev)
	}
	h.status(domain.ScheduleStatusActive, at(5, 7, 30))

	invalid := dailyAtNine()
	invalid.Cron = "61 * * * *"
	_, err := h.s.Update(schedOwner, invalid, timer, scheduler.CheckAction, schedNow)
	if got := fieldErrors(t, err); len(got) != 1 || got[0].Field != "cron" {
		t.Fatalf("invalid update: %q", got)
	}

	h.must(h.s.Pause(schedOwner))
	h.status(domain.ScheduleStatusPaused, at(5, 7, 30))
	if events, err := h.s.Pause(schedOwner); err != nil || events != nil {
		t.Fatalf("pausing a paused schedule records nothing: %v %v", events, err)
	}
	// Updated while paused, it stays paused.
	h.must(h.s.Update(schedOwner, dailyAtNine(), timer, scheduler.CheckAction, at(5, 8, 0)))
	h.status(domain.ScheduleStatusPaused, at(5, 9, 0))
	// What fell due while paused is not run: resumed on the 8th at noon, it is next due on the
	// 9th.
	h.must(h.s.Resume(schedOwner, timer, at(8, 12, 0)))
	h.status(domain.ScheduleStatusActive, at(9, 9, 0))
	refusedWith(t, domain.CodeConflict)(h.s.Resume(schedOwner, timer, schedNow))
}

func TestSchedulerFireMustNameTheNextDueTime(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	conflict := refusedWith(t, domain.CodeConflict)
	conflict(h.s.Fire(domain.System, "r1", domain.TriggerScheduler, domain.TimeFireKey(at(4, 8, 0)), at(4, 8, 0), timer))
	conflict(h.s.Fire(domain.System, "r1", domain.TriggerScheduler, domain.TimeFireKey(at(5, 9, 0)), at(5, 9, 0), timer))
	refusedWith(t, domain.CodeInvalid)(h.s.Fire(domain.System, "r1", "cron", "due:x", at(4, 9, 0), timer))

	fired := h.fire("r1")
	want := &domain.ScheduleFired{RunID: "r1", Trigger: domain.TriggerScheduler, FireKey: "due:2027-01-04T09:00:00Z",
		DueAt: at(4, 9, 0), NextDueAt: at(5, 9, 0)}
	if !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired:\n got %+v\nwant %+v", fired, want)
	}
	h.status(domain.ScheduleStatusActive, at(5, 9, 0))
	if !h.s.LastDueAt.Equal(at(4, 9, 0)) || h.s.Executions != 1 {
		t.Fatalf("last due %s, executions %d", h.s.LastDueAt, h.s.Executions)
	}
	// The same fire again, by a second instance that lost the race.
	conflict(h.s.Fire(domain.System, "r2", domain.TriggerScheduler, domain.TimeFireKey(at(4, 9, 0)), at(4, 9, 0), timer))

	// Along the cron grid, recovery fires as well.
	h.fire("r2")
	h.status(domain.ScheduleStatusActive, at(6, 9, 0))
	h.must(h.s.Fire(domain.System, "r3", domain.TriggerRecovery, domain.TimeFireKey(at(6, 9, 0)), at(6, 9, 0), timer))
	h.status(domain.ScheduleStatusActive, at(7, 9, 0))

	// Weekdays only: Friday's due time is followed by Monday's.
	weekdays := dailyAtNine()
	weekdays.Cron = "0 9 * * 1-5"
	w := newSchedule(t, weekdays)
	for w.s.NextDueAt.Before(at(8, 9, 0)) {
		w.fire("r")
	}
	w.fire("friday")
	w.status(domain.ScheduleStatusActive, at(11, 9, 0))

	// In a time zone, along its wall clock.
	paris := dailyAtNine()
	paris.TimeZone = "Europe/Paris"
	p := newSchedule(t, paris)
	p.status(domain.ScheduleStatusActive, at(4, 8, 0))
	p.fire("r1")
	p.status(domain.ScheduleStatusActive, at(5, 8, 0))
}

func TestManualAndEventFires(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	manual := h.must(h.s.Fire(schedOwner, "m1", domain.TriggerManual, "manual:m1", schedNow, timer))[0].(*domain.ScheduleFired)
	if manual.Done || !manual.NextDueAt.Equal(at(4, 9, 0)) {
		t.Fatalf("manual fire: %+v", manual)
	}
	h.status(domain.ScheduleStatusActive, at(4, 9, 0))
	if h.s.Executions != 1 || !h.s.LastDueAt.IsZero() {
		t.Fatalf("a manual fire leaves the due times alone: %+v", h.s)
	}
	refusedWith(t, domain.CodeConflict)(h.s.Fire(schedOwner, "m2", domain.TriggerManual, "manual:m1", schedNow, timer))

	// Paused: the scheduler stops, a person may still trigger it.
	h.must(h.s.Pause(schedOwner))
	refusedWith(t, domain.CodeConflict)(h.s.Fire(domain.System, "r1", domain.TriggerScheduler, domain.TimeFireKey(at(4, 9, 0)), at(4, 9, 0), timer))
	h.must(h.s.Fire(schedAdmin, "m2", domain.TriggerManual, "manual:m2", schedNow, timer))
	h.status(domain.ScheduleStatusPaused, at(4, 9, 0))

	// Event fires are for active event schedules only.
	refusedWith(t, domain.CodeConflict)(h.s.Fire(domain.System, "e1", domain.TriggerEvent, "event:1", schedNow, timer))
	h.must(h.s.Resume(schedOwner, timer, schedNow))
	refusedWith(t, domain.CodeConflict)(h.s.Fire(domain.System, "e1", domain.TriggerEvent, "event:1", schedNow, timer))

	spec := dailyAtNine()
	spec.Type, spec.Cron, spec.EventType = domain.ScheduleEvent, "", "agent.created"
	ev := newSchedule(t, spec)
	refusedWith(t, domain.CodeConflict)(ev.s.Fire(domain.System, "r1", domain.TriggerScheduler, "due:x", schedNow, timer))
	fired := ev.must(ev.s.Fire(domain.System, "e1", domain.TriggerEvent, "event:1", schedNow, timer))[0].(*domain.ScheduleFired)
	if fired.Done || !fired.NextDueAt.IsZero() {
		t.Fatalf("event fire: %+v", fired)
	}
	ev.status(domain.ScheduleStatusActive, time.Time{})
	refusedWith(t, domain.CodeConflict)(ev.s.Fire(domain.System, "e2", domain.TriggerEvent, "event:1", schedNow, timer))
	ev.must(ev.s.Fire(domain.System, "e2", domain.TriggerEvent, "event:2", schedNow, timer))
	ev.must(ev.s.Pause(schedOwner))
	refusedWith(t, domain.CodeConflict)(ev.s.Fire(domain.System, "e3", domain.TriggerEvent, "event:3", schedNow, timer))
}

func TestMaxExecutionsEndsTheSchedule(t *testing.T) {
	spec := dailyAtNine()
	spec.MaxExecutions = 3
	h := newSchedule(t, spec)
	h.must(h.s.Fire(schedOwner, "m1", domain.TriggerManual, "manual:m1", schedNow, timer))
	if f := h.fire("r1"); f.Done {
		t.Fatalf("second of three: %+v", f)
	}
	last := h.fire("r2")
	if !last.Done || !last.NextDueAt.IsZero() {
		t.Fatalf("third of three: %+v", last)
	}
	h.status(domain.ScheduleStatusDone, time.Time{})
	conflict := refusedWith(t, domain.CodeConflict)
	conflict(h.s.Fire(schedOwner, "m2", domain.TriggerManual, "manual:m2", schedNow, timer))
	conflict(h.s.Fire(domain.System, "r3", domain.TriggerScheduler, domain.TimeFireKey(at(6, 9, 0)), at(6, 9, 0), timer))
	conflict(h.s.Pause(schedOwner))

	// Raising the limit brings it back.
	spec.MaxExecutions = 4
	h.must(h.s.Update(schedOwner, spec, timer, scheduler.CheckAction, at(6, 10, 0)))
	h.status(domain.ScheduleStatusActive, at(7, 9, 0))
	h.fire("r3")
	h.status(domain.ScheduleStatusDone, time.Time{})

	// A manual fire can be the last one.
	once := dailyAtNine()
	once.MaxExecutions = 1
	m := newSchedule(t, once)
	if f := m.must(m.s.Fire(schedOwner, "m1", domain.TriggerManual, "manual:m1", schedNow, timer))[0].(*domain.ScheduleFired); !f.Done {
		t.Fatalf("manual last fire: %+v", f)
	}
	if m.s.Status != domain.ScheduleStatusDone {
		t.Fatalf("status %s", m.s.Status)
	}

	// And an event schedule, which has no due times, ends the same way and comes back the same way.
	spec = dailyAtNine()
	spec.Type, spec.Cron, spec.EventType, spec.MaxExecutions = domain.ScheduleEvent, "", "agent.created", 1
	e := newSchedule(t, spec)
	e.must(e.s.Fire(domain.System, "e1", domain.TriggerEvent, "event:1", schedNow, timer))
	e.status(domain.ScheduleStatusDone, time.Time{})
	spec.MaxExecutions = 2
	e.must(e.s.Update(schedOwner, spec, timer, scheduler.CheckAction, schedNow))
	e.status(domain.ScheduleStatusActive, time.Time{})
	e.must(e.s.Fire(domain.System, "e2", domain.TriggerEvent, "event:2", schedNow, timer))
	e.status(domain.ScheduleStatusDone, time.Time{})
}

func TestEndDateEndsTheSchedule(t *testing.T) {
	spec := dailyAtNine()
	spec.EndAt = timePtr(at(5, 9, 0))
	h := newSchedule(t, spec)
	if f := h.fire("r1"); f.Done || !f.NextDueAt.Equal(at(5, 9, 0)) {
		t.Fatalf("first: %+v", f)
	}
	if f := h.fire("r2"); !f.Done || !f.NextDueAt.IsZero() {
		t.Fatalf("on the end date: %+v", f)
	}
	h.status(domain.ScheduleStatusDone, time.Time{})

	// Moving the end date into the past ends a schedule at once.
	g := newSchedule(t, dailyAtNine())
	spec = dailyAtNine()
	spec.EndAt = timePtr(at(4, 8, 30))
	if ev := g.must(g.s.Update(schedOwner, spec, timer, scheduler.CheckAction, schedNow))[0].(*domain.ScheduleUpdated); !ev.Done {
		t.Fatalf("update: %+v", ev)
	}
	g.status(domain.ScheduleStatusDone, time.Time{})
	spec.EndAt = nil
	g.must(g.s.Update(schedOwner, spec, timer, scheduler.CheckAction, schedNow))
	g.status(domain.ScheduleStatusActive, at(4, 9, 0))
	refusedWith(t, domain.CodeConflict)(h.s.Fire(domain.System, "r3", domain.TriggerScheduler, domain.TimeFireKey(at(6, 9, 0)), at(6, 9, 0), timer))
}

func TestOnceScheduleIsDoneAfterItsFire(t *testing.T) {
	spec := dailyAtNine()
	spec.Type, spec.Cron, spec.RunAt = domain.ScheduleOnce, "", timePtr(at(4, 12, 0))
	h := newSchedule(t, spec)
	h.status(domain.ScheduleStatusActive, at(4, 12, 0))
	// A manual fire before its time does not use it up.
	h.must(h.s.Fire(schedOwner, "m1", domain.TriggerManual, "manual:m1", schedNow, timer))
	h.status(domain.ScheduleStatusActive, at(4, 12, 0))
	f := h.fire("r1")
	if !f.Done || !f.NextDueAt.IsZero() {
		t.Fatalf("fired: %+v", f)
	}
	h.status(domain.ScheduleStatusDone, time.Time{})
	refusedWith(t, domain.CodeConflict)(h.s.Fire(schedOwner, "m2", domain.TriggerManual, "manual:m2", schedNow, timer))

	// Renamed after it ran, it stays done.
	renamed := spec
	renamed.Name = "Renamed"
	h.must(h.s.Update(schedOwner, renamed, timer, scheduler.CheckAction, at(4, 13, 0)))
	h.status(domain.ScheduleStatusDone, time.Time{})
	// Given a new time, it runs again.
	renamed.RunAt = timePtr(at(5, 12, 0))
	h.must(h.s.Update(schedOwner, renamed, timer, scheduler.CheckAction, at(4, 13, 0)))
	h.status(domain.ScheduleStatusActive, at(5, 12, 0))
	// A time moved into the past is refused, as at creation.
	renamed.RunAt = timePtr(at(4, 10, 0))
	_, err := h.s.Update(schedOwner, renamed, timer, scheduler.CheckAction, at(4, 13, 0))
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, []domain.FieldError{{Field: "run_at", Message: "is in the past"}}) {
		t.Fatalf("moved into the past: %q", got)
	}
}

// A change made just as a once schedule falls due must not lose its run.
func TestRenamingAOnceScheduleAtItsTimeKeepsItDue(t *testing.T) {
	spec := dailyAtNine()
	spec.Type, spec.Cron, spec.RunAt = domain.ScheduleOnce, "", timePtr(at(4, 12, 0))
	h := newSchedule(t, spec)
	spec.Name = "Renamed"
	h.must(h.s.Update(schedOwner, spec, timer, scheduler.CheckAction, at(4, 12, 0).Add(200*time.Millisecond)))
	h.status(domain.ScheduleStatusActive, at(4, 12, 0))
	if f := h.fire("r1"); !f.Done {
		t.Fatalf("fired: %+v", f)
	}
}

// An instance whose clock is a little behind the one that fired a due time must not offer that
// due time again: its fire key is claimed, so the schedule would wait on it for ever.
func TestUpdateAndResumeNeverOfferAFiredDueTimeAgain(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	h.fire("r1")
	behind := at(4, 9, 0).Add(-50 * time.Millisecond)
	spec := dailyAtNine()
	spec.Name = "Renamed"
	h.must(h.s.Update(schedOwner, spec, timer, scheduler.CheckAction, behind))
	h.status(domain.ScheduleStatusActive, at(5, 9, 0))
	h.must(h.s.Pause(schedOwner))
	h.must(h.s.Resume(schedOwner, timer, at(4, 9, 0)))
	h.status(domain.ScheduleStatusActive, at(5, 9, 0))
	h.fire("r2")
	h.status(domain.ScheduleStatusActive, at(6, 9, 0))
}

func TestResumeAfterTheLastDueTimeEndsTheSchedule(t *testing.T) {
	spec := dailyAtNine()
	spec.Type, spec.Cron, spec.RunAt = domain.ScheduleOnce, "", timePtr(at(4, 12, 0))
	h := newSchedule(t, spec)
	h.must(h.s.Pause(schedOwner))
	ev := h.must(h.s.Resume(schedOwner, timer, at(4, 13, 0)))[0].(*domain.ScheduleResumed)
	if !ev.Done {
		t.Fatalf("resumed: %+v", ev)
	}
	h.status(domain.ScheduleStatusDone, time.Time{})
}

func TestMissRecordsPassedDueTimes(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	conflict := refusedWith(t, domain.CodeConflict)
	conflict(h.s.Miss(at(5, 9, 0), at(6, 9, 0), 2, timer))
	conflict(h.s.Miss(at(4, 8, 0), at(6, 9, 0), 3, timer))
	conflict(h.s.Miss(at(4, 9, 0), at(3, 9, 0), 1, timer))
	conflict(h.s.Miss(at(4, 9, 0), at(6, 9, 0), 0, timer))

	missed := h.must(h.s.Miss(at(4, 9, 0), at(6, 9, 0), 3, timer))[0].(*domain.ScheduleMissed)
	want := &domain.ScheduleMissed{First: at(4, 9, 0), Last: at(6, 9, 0), Count: 3, Policy: domain.MissedRunLatest, NextDueAt: at(7, 9, 0)}
	if !reflect.DeepEqual(missed, want) {
		t.Fatalf("missed:\n got %+v\nwant %+v", missed, want)
	}
	h.status(domain.ScheduleStatusActive, at(7, 9, 0))
	if !h.s.LastDueAt.Equal(at(6, 9, 0)) || h.s.Executions != 0 {
		t.Fatalf("last due %s, executions %d", h.s.LastDueAt, h.s.Executions)
	}
	// The missed due times cannot fire any more; the next one can.
	conflict(h.s.Fire(domain.System, "r1", domain.TriggerRecovery, domain.TimeFireKey(at(6, 9, 0)), at(6, 9, 0), timer))
	h.fire("r1")
	h.status(domain.ScheduleStatusActive, at(8, 9, 0))

	h.must(h.s.Pause(schedOwner))
	conflict(h.s.Miss(at(8, 9, 0), at(8, 9, 0), 1, timer))
}

func TestMissingTheLastDueTimeEndsTheSchedule(t *testing.T) {
	spec := dailyAtNine()
	spec.Type, spec.Cron, spec.RunAt, spec.MissedPolicy = domain.ScheduleOnce, "", timePtr(at(4, 12, 0)), domain.MissedSkip
	h := newSchedule(t, spec)
	missed := h.must(h.s.Miss(at(4, 12, 0), at(4, 12, 0), 1, timer))[0].(*domain.ScheduleMissed)
	if !missed.Done || !missed.NextDueAt.IsZero() || missed.Policy != domain.MissedSkip {
		t.Fatalf("missed: %+v", missed)
	}
	h.status(domain.ScheduleStatusDone, time.Time{})

	daily := dailyAtNine()
	daily.EndAt = timePtr(at(6, 9, 0))
	d := newSchedule(t, daily)
	d.must(d.s.Miss(at(4, 9, 0), at(6, 9, 0), 3, timer))
	d.status(domain.ScheduleStatusDone, time.Time{})
}

// Every event the schedule decides survives the log: encoded, decoded by the registry and
// folded, it gives the same schedule.
func TestScheduleEventsRoundTripThroughTheRegistry(t *testing.T) {
	h := newSchedule(t, dailyAtNine())
	h.fire("r1")
	h.must(h.s.Miss(at(5, 9, 0), at(5, 9, 0), 1, timer))
	h.must(h.s.Pause(schedOwner))
	h.must(h.s.Fire(schedOwner, "m1", domain.TriggerManual, "manual:m1", schedNow, timer))
	h.must(h.s.Resume(schedOwner, timer, at(6, 10, 0)))
	spec := dailyAtNine()
	spec.EndAt = timePtr(at(6, 12, 0))
	h.must(h.s.Update(schedOwner, spec, timer, scheduler.CheckAction, at(6, 11, 0)))
	h.must(h.s.Delete(schedOwner))

	var replayed domain.Schedule
	for _, e := range h.log {
		typ, version, payload, err := domain.Events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := domain.Events.Decode(typ, version, payload)
		if err != nil {
			t.Fatalf("%s: %v", e.EventType(), err)
		}
		replayed.Apply(decoded)
	}
	if replayed.Status != h.s.Status || replayed.Version != h.s.Version || !replayed.NextDueAt.Equal(h.s.NextDueAt) ||
		!replayed.LastDueAt.Equal(h.s.LastDueAt) || replayed.Executions != h.s.Executions || replayed.Spec.Name != h.s.Spec.Name {
		t.Fatalf("replayed %+v\n    live %+v", replayed, h.s)
	}
	if h.s.Status != domain.ScheduleStatusDeleted || h.s.Executions != 2 {
		t.Fatalf("live: %+v", h.s)
	}
}

// fe is a field error written short in the tables; vet asks for keyed fields on another
// package's struct.
type fe struct{ Field, Message string }

func plain(errs []domain.FieldError) []fe {
	var out []fe
	for _, e := range errs {
		out = append(out, fe(e))
	}
	return out
}
