package projections_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/sql/dbq"
)

// stepTimer stands in for package scheduler's timer: every due time is a multiple of a fixed
// step (interval_sec, or @hourly/@daily for cron), which is all the projection needs to see
// due times move.
type stepTimer struct{}

func (stepTimer) Check(s domain.ScheduleSpec) []domain.FieldError {
	if s.Type == domain.ScheduleCron && stepOf(s) == 0 {
		return []domain.FieldError{{Field: "cron", Message: "the test timer knows only @hourly and @daily"}}
	}
	return nil
}

func (stepTimer) Next(s domain.ScheduleSpec, after time.Time) time.Time {
	if s.Type == domain.ScheduleOnce {
		if s.RunAt != nil && s.RunAt.After(after) {
			return *s.RunAt
		}
		return time.Time{}
	}
	step := stepOf(s)
	if step == 0 {
		return time.Time{}
	}
	return after.UTC().Truncate(step).Add(step)
}

func stepOf(s domain.ScheduleSpec) time.Duration {
	switch s.Type {
	case domain.ScheduleInterval:
		return time.Duration(s.IntervalSec) * time.Second
	case domain.ScheduleCron:
		return map[string]time.Duration{"@hourly": time.Hour, "@daily": 24 * time.Hour}[s.Cron]
	}
	return 0
}

// schedLog records schedule and run decisions on a pipeLog (see pipelines_test.go).
type schedLog struct{ *pipeLog }

func (l schedLog) schedule(s *domain.Schedule) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		l.t.Helper()
		if err != nil {
			l.t.Fatal(err)
		}
		if s.ID == "" {
			s.ID = events[0].(*domain.ScheduleCreated).ID
		}
		l.append(domain.ScheduleStreamID(s.ID), domain.StreamTypeSchedule, events)
		for _, ev := range events {
			s.Apply(ev)
		}
	}
}

func (l schedLog) run(r *domain.ScheduleRun) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		l.t.Helper()
		if err != nil {
			l.t.Fatal(err)
		}
		id := r.ID
		if id == "" {
			id = events[0].(*domain.ScheduleRunStarted).ID
		}
		l.append(domain.ScheduleRunStreamID(id), domain.StreamTypeScheduleRun, events)
		for _, ev := range events {
			r.Apply(ev)
		}
	}
}

// fire fires s as actor and returns the event the run starts from.
func (l schedLog) fire(s *domain.Schedule, actor domain.Actor, trigger, key string, due time.Time) domain.ScheduleFired {
	l.t.Helper()
	events, err := s.Fire(actor, uuid.NewString(), trigger, key, due, stepTimer{})
	l.schedule(s)(events, err)
	return *events[0].(*domain.ScheduleFired)
}

func (l schedLog) create(s *domain.Schedule, owner string, spec domain.ScheduleSpec) {
	l.t.Helper()
	l.schedule(s)(s.Create(domain.Actor{ID: owner, Role: domain.RoleMember}, uuid.NewString(), spec, stepTimer{}, nil, l.now))
}

func scheduleIDs(vs []projections.ScheduleView) []string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}

func scheduleRunIDs(vs []projections.ScheduleRunView) []string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}

func byID(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

// wantExact checks a time of an attempt's history, which keeps the event's nanoseconds.
func wantExact(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want) {
		t.Fatalf("%s = %v, want %s", what, got, want)
	}
}

func wantNoTime(t *testing.T, what string, got *time.Time) {
	t.Helper()
	if got != nil {
		t.Fatalf("%s = %s, want none", what, got)
	}
}

// TestSchedulesModelFollowsTheLogAndReplays drives six schedules through the domain: an hourly
// one fired three times by the scheduler (a run that succeeds at once, one that succeeds after a
// retry, one that fails after its retries), once by hand, then missing a range of due times
// and firing the latest by recovery; an interval schedule paused and resumed; a once schedule
// done; one done and given a new time; an event schedule; a deleted one. It checks every view,
// then delivers the log again and rebuilds the model from it to the same checksum.
func TestSchedulesModelFollowsTheLogAndReplays(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	announcer := eventlog.NewAnnouncer(e.db.SQL, e.notifier)
	t.Cleanup(announcer.Close)
	// Nanoseconds on the clock: the events keep them, the columns round them to microseconds.
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 123456, time.UTC)
	l := schedLog{&pipeLog{t: t, e: e, announcer: announcer, now: t0}}
	e.store.Now = func() time.Time { return l.now }
	at := func(hh, mm int) time.Time { return time.Date(2025, 3, 1, hh, mm, 0, 0, time.UTC) }
	// setTo moves the clock to a wall time, keeping t0's sub-second part so times stay exact.
	setTo := func(tm time.Time) time.Time {
		l.now = tm.Add(time.Duration(t0.Nanosecond()))
		return l.now
	}

	model := projections.NewSchedules(domain.Events)
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), model)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	waiter := projections.NewWaiter(e.db.SQL, e.notifier)
	caughtUp := func() {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waiter.WaitFor(wctx, "schedules", l.last.Cursor()); err != nil {
			t.Fatal(err)
		}
		if msg := runner.LastError("schedules"); msg != "" {
			t.Fatalf("projection error: %s", msg)
		}
	}
	reads := projections.NewScheduleQueries(e.db.SQL)
	get := func(s *domain.Schedule) projections.ScheduleView {
		t.Helper()
		v, err := reads.Get(ctx, s.ID)
		if err != nil {
			t.Fatalf("get %s: %v", s.Spec.Name, err)
		}
		return v
	}
	getRun := func(id string) projections.ScheduleRunView {
		t.Helper()
		v, err := reads.Run(ctx, id)
		if err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
		return v
	}
	due := func(now time.Time, limit int) []string {
		t.Helper()
		vs, err := reads.Due(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		return scheduleIDs(vs)
	}
	u1 := domain.Actor{ID: "u1", Role: domain.RoleMember}
	u2 := domain.Actor{ID: "u2", Role: domain.RoleMember}
	hook := json.RawMessage(`{"url":"https://example.com/hook"}`)

	// A is hourly, created with one retry and updated to two before it first fires.
	var hourly, launchB, launchC, gone, onAgent, again domain.Schedule
	l.create(&hourly, "u1", domain.ScheduleSpec{Name: "hourly report", Type: domain.ScheduleCron, Cron: "@hourly",
		Action: domain.ActionSendNotification, ActionConfig: hook, MaxRetries: 1, RetryDelaySec: 60})
	hourlyCreated := l.now
	l.tick(time.Second)
	hourlySpec := hourly.Spec
	hourlySpec.Description, hourlySpec.MaxRetries = "to the team", 2
	l.schedule(&hourly)(hourly.Update(u1, hourlySpec, stepTimer{}, nil, l.now))
	l.create(&launchB, "u2", domain.ScheduleSpec{Name: "launch", Type: domain.ScheduleInterval, IntervalSec: 600,
		Action: domain.ActionCallAPI, ActionConfig: json.RawMessage(`{"url":"https://example.com/api"}`)})
	runAt := at(10, 30)
	l.create(&launchC, "u1", domain.ScheduleSpec{Name: "launch", Type: domain.ScheduleOnce, RunAt: &runAt,
		Action: domain.ActionRunTask, ActionConfig: json.RawMessage(`{"goal":"ship"}`)})
	l.create(&gone, "u1", domain.ScheduleSpec{Name: "gone", Type: domain.ScheduleInterval, IntervalSec: 3600,
		Action: domain.ActionSendNotification, ActionConfig: hook})
	l.schedule(&gone)(gone.Delete(u1))
	l.create(&onAgent, "u2", domain.ScheduleSpec{Name: "on agent", Type: domain.ScheduleEvent, EventType: "agent.created",
		Action: domain.ActionSendNotification, ActionConfig: hook})
	againAt := at(10, 20)
	l.create(&again, "u2", domain.ScheduleSpec{Name: "again", Type: domain.ScheduleOnce, RunAt: &againAt,
		Action: domain.ActionSendNotification, ActionConfig: hook})

	// B fires at 10:10 (its run never starts) and is paused.
	setTo(at(10, 10))
	firedB := l.fire(&launchB, domain.System, domain.TriggerScheduler, domain.TimeFireKey(at(10, 10)), at(10, 10))
	fireBAt := l.now
	l.tick(time.Second)
	l.schedule(&launchB)(launchB.Pause(u2))
	caughtUp()
	if b := get(&launchB); b.Status != "paused" || !b.NextDueAt.Equal(at(10, 20)) {
		t.Fatalf("paused B: %+v", b)
	}
	if got := due(at(10, 20), 0); !reflect.DeepEqual(got, []string{again.ID}) {
		t.Fatalf("due at 10:20 with B paused: %q, want only %s", got, again.ID)
	}

	// H fires once at 10:20, which makes it done; a new time makes it active again.
	setTo(at(10, 20))
	firedH := l.fire(&again, domain.System, domain.TriggerScheduler, domain.TimeFireKey(againAt), againAt)
	var runH domain.ScheduleRun
	l.run(&runH)(runH.Start(firedH.RunID, &again, firedH, l.tick(100*time.Millisecond)))
	l.run(&runH)(runH.Succeed(1, nil, l.tick(time.Second)))
	caughtUp()
	if h := get(&again); h.Status != "done" || h.NextDueAt != nil || !h.LastDueAt.Equal(againAt) {
		t.Fatalf("H once fired: %+v", h)
	}
	setTo(at(10, 25))
	againSpec := again.Spec
	later := at(12, 30)
	againSpec.RunAt = &later
	l.schedule(&again)(again.Update(u2, againSpec, stepTimer{}, nil, l.now))

	// C fires at its one time and is done; its run succeeds.
	setTo(at(10, 30))
	firedC := l.fire(&launchC, domain.System, domain.TriggerScheduler, domain.TimeFireKey(runAt), runAt)
	if !firedC.Done {
		t.Fatal("a once schedule's fire is its last")
	}
	var runC domain.ScheduleRun
	l.run(&runC)(runC.Start(firedC.RunID, &launchC, firedC, l.tick(100*time.Millisecond)))
	l.run(&runC)(runC.Succeed(1, json.RawMessage(`{"task": "t1"}`), l.tick(5*time.Second)))

	// E fires on an event; its run fails at once, without retry.
	eventAt := setTo(at(10, 45))
	firedE := l.fire(&onAgent, domain.System, domain.TriggerEvent, "event:"+uuid.NewString(), eventAt)
	var runE domain.ScheduleRun
	runEStart := l.tick(100 * time.Millisecond)
	l.run(&runE)(runE.Start(firedE.RunID, &onAgent, firedE, runEStart))
	runEEnd := l.tick(300 * time.Millisecond)
	l.run(&runE)(runE.Fail(1, "agent gone", false, runEEnd))

	// A, run 1: succeeds at once.
	fire1At := setTo(at(11, 0))
	fired1 := l.fire(&hourly, domain.System, domain.TriggerScheduler, domain.TimeFireKey(at(11, 0)), at(11, 0))
	var run1 domain.ScheduleRun
	run1Start := l.tick(100 * time.Millisecond)
	l.run(&run1)(run1.Start(fired1.RunID, &hourly, fired1, run1Start))
	run1End := l.tick(2 * time.Second)
	l.run(&run1)(run1.Succeed(1, json.RawMessage(`{"status": 200}`), run1End))

	// A, run 2: attempt 1 fails and is retried a minute later; attempt 2 succeeds.
	setTo(at(12, 0))
	fired2 := l.fire(&hourly, domain.System, domain.TriggerScheduler, domain.TimeFireKey(at(12, 0)), at(12, 0))
	var run2 domain.ScheduleRun
	run2Start := l.tick(100 * time.Millisecond)
	l.run(&run2)(run2.Start(fired2.RunID, &hourly, fired2, run2Start))
	run2Fail := l.tick(time.Second)
	l.run(&run2)(run2.Fail(1, "connection reset", true, run2Fail))
	run2Retry := l.tick(time.Minute)
	l.run(&run2)(run2.StartAttempt(2, run2Retry))
	run2End := l.tick(2 * time.Second)
	l.run(&run2)(run2.Succeed(2, json.RawMessage(`{"status":201}`), run2End))

	// A, run 3: three attempts fail; the third has no retry left.
	setTo(at(13, 0))
	fired3 := l.fire(&hourly, domain.System, domain.TriggerScheduler, domain.TimeFireKey(at(13, 0)), at(13, 0))
	var run3 domain.ScheduleRun
	run3Start := l.tick(100 * time.Millisecond)
	l.run(&run3)(run3.Start(fired3.RunID, &hourly, fired3, run3Start))
	run3Fail1 := l.tick(time.Second)
	l.run(&run3)(run3.Fail(1, "HTTP 503", true, run3Fail1))
	caughtUp()
	if r := getRun(run3.ID); r.Status != "retrying" || r.Error != "HTTP 503" || r.Attempts != 1 || r.EndedAt != nil {
		t.Fatalf("run 3 waiting to retry: %+v", r)
	} else {
		wantTime(t, "run 3 next_retry_at", r.NextRetryAt, run3Fail1.Add(time.Minute))
	}
	if a := get(&hourly); a.LastRunID != run3.ID || a.LastRunStatus != "retrying" {
		t.Fatalf("A while run 3 retries: %+v", a)
	}
	run3Attempt2 := l.tick(time.Minute)
	l.run(&run3)(run3.StartAttempt(2, run3Attempt2))
	run3Fail2 := l.tick(time.Second)
	l.run(&run3)(run3.Fail(2, "HTTP 503", true, run3Fail2))
	run3Attempt3 := l.tick(time.Minute)
	l.run(&run3)(run3.StartAttempt(3, run3Attempt3))
	run3End := l.tick(3 * time.Second)
	l.run(&run3)(run3.Fail(3, "HTTP 500", true, run3End))
	if run3.Status != domain.ScheduleRunStatusFailed {
		t.Fatalf("run 3: %s", run3.Status)
	}

	// A, run 5: triggered by hand; it leaves the due times alone and never starts.
	manualAt := setTo(at(13, 30))
	fired5 := l.fire(&hourly, u1, domain.TriggerManual, "manual:"+uuid.NewString(), manualAt)
	caughtUp()
	if a := get(&hourly); !a.NextDueAt.Equal(at(14, 0)) || !a.LastDueAt.Equal(at(13, 0)) || a.Executions != 4 ||
		a.LastRunID != fired5.RunID || a.LastRunStatus != "pending" {
		t.Fatalf("A after the manual fire: %+v", a)
	}

	// Down from 13:59 to 16:30: 14:00 and 15:00 are missed, 16:00 (the latest) fires by recovery
	// and its run is still running at the end.
	recoveryAt := setTo(at(16, 30))
	l.schedule(&hourly)(hourly.Miss(at(14, 0), at(15, 0), 2, stepTimer{}))
	fired4 := l.fire(&hourly, domain.System, domain.TriggerRecovery, domain.TimeFireKey(at(16, 0)), at(16, 0))
	var run4 domain.ScheduleRun
	run4Start := l.tick(100 * time.Millisecond)
	l.run(&run4)(run4.Start(fired4.RunID, &hourly, fired4, run4Start))

	// B resumes from now.
	resumeAt := l.tick(time.Second)
	l.schedule(&launchB)(launchB.Resume(u2, stepTimer{}, l.now))
	caughtUp()

	// Schedules.
	a := get(&hourly)
	if a.ID != hourly.ID || a.Owner != "u1" || a.Name != "hourly report" || a.Description != "to the team" || a.Type != "cron" ||
		a.Action != "send_notification" || a.Status != "active" || a.Executions != 5 || a.RunsSucceeded != 2 || a.RunsFailed != 1 ||
		a.LastRunID != run4.ID || a.LastRunStatus != "running" || a.Version != hourly.Version || a.Version != 8 ||
		!a.CreatedAt.Equal(col(hourlyCreated)) || !a.UpdatedAt.Equal(col(run4Start)) {
		t.Fatalf("A: %+v", a)
	}
	wantTime(t, "A next_due_at", a.NextDueAt, at(17, 0))
	wantTime(t, "A last_due_at", a.LastDueAt, at(16, 0))
	if !reflect.DeepEqual(a.Spec, hourly.Spec) {
		t.Fatalf("A spec:\n got %+v\nwant %+v", a.Spec, hourly.Spec)
	}
	b := get(&launchB)
	if b.Status != "active" || b.Executions != 1 || b.RunsSucceeded != 0 || b.RunsFailed != 0 || b.LastRunID != firedB.RunID ||
		b.LastRunStatus != "pending" || b.Version != 4 || !b.UpdatedAt.Equal(col(resumeAt)) || b.Description != "" {
		t.Fatalf("B: %+v", b)
	}
	wantTime(t, "B next_due_at (from the resume)", b.NextDueAt, at(16, 40))
	wantTime(t, "B last_due_at", b.LastDueAt, at(10, 10))
	jsonEqual(t, "B action config", b.Spec.ActionConfig, `{"url":"https://example.com/api"}`)
	c := get(&launchC)
	if c.Status != "done" || c.Type != "once" || c.Action != "run_task" || c.Executions != 1 || c.RunsSucceeded != 1 ||
		c.LastRunID != runC.ID || c.LastRunStatus != "succeeded" || c.Version != 2 {
		t.Fatalf("C: %+v", c)
	}
	wantNoTime(t, "C next_due_at", c.NextDueAt)
	wantTime(t, "C last_due_at", c.LastDueAt, runAt)
	if c.Spec.RunAt == nil || !c.Spec.RunAt.Equal(runAt) {
		t.Fatalf("C run_at: %v", c.Spec.RunAt)
	}
	ev := get(&onAgent)
	if ev.Status != "active" || ev.Type != "event" || ev.Executions != 1 || ev.RunsFailed != 1 || ev.LastRunStatus != "failed" ||
		ev.Spec.EventType != "agent.created" {
		t.Fatalf("E: %+v", ev)
	}
	wantNoTime(t, "E next_due_at", ev.NextDueAt)
	wantNoTime(t, "E last_due_at (an event fire has no due time of the schedule's)", ev.LastDueAt)
	h := get(&again)
	if h.Status != "active" || h.Executions != 1 || h.RunsSucceeded != 1 || h.Version != 3 {
		t.Fatalf("H: %+v", h)
	}
	wantTime(t, "H next_due_at (its new time)", h.NextDueAt, later)
	wantTime(t, "H last_due_at", h.LastDueAt, againAt)
	for _, id := range []string{gone.ID, uuid.NewString(), "not-a-uuid", run1.ID} {
		if _, err := reads.Get(ctx, id); !notFound(err, "schedule not found") {
			t.Fatalf("get %s: %v", id, err)
		}
	}

	// The scheduler's tick: active schedules due by then, longest overdue first. D, deleted,
	// and C, done, had due times once; E never has one.
	for _, tc := range []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{at(12, 29), 0, nil},
		{recoveryAt, 0, []string{again.ID}},
		{at(16, 40), 0, []string{again.ID, launchB.ID}},
		{at(17, 0), 0, []string{again.ID, launchB.ID, hourly.ID}},
		{at(17, 0), 2, []string{again.ID, launchB.ID}},
	} {
		if got := due(tc.now, tc.limit); !reflect.DeepEqual(got, append([]string{}, tc.want...)) {
			t.Fatalf("due at %s (limit %d): %q, want %q", tc.now.Format("15:04"), tc.limit, got, tc.want)
		}
	}

	// Lists: by name then id, deleted left out.
	launches := byID(launchB.ID, launchC.ID)
	wantAll := append([]string{again.ID, hourly.ID}, append(launches, onAgent.ID)...)
	list := func(f projections.ScheduleFilter) []string {
		t.Helper()
		vs, err := reads.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return scheduleIDs(vs)
	}
	if got := list(projections.ScheduleFilter{}); !reflect.DeepEqual(got, wantAll) {
		t.Fatalf("list: %q, want %q", got, wantAll)
	}
	var paged []string
	for after := ""; ; {
		page := list(projections.ScheduleFilter{After: after, Limit: 2})
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	if !reflect.DeepEqual(paged, wantAll) {
		t.Fatalf("paged list: %q, want %q", paged, wantAll)
	}
	for name, tc := range map[string]struct {
		f    projections.ScheduleFilter
		want []string
	}{
		"u1's":                       {projections.ScheduleFilter{Owner: "u1"}, []string{hourly.ID, launchC.ID}},
		"u2's":                       {projections.ScheduleFilter{Owner: "u2"}, []string{again.ID, launchB.ID, onAgent.ID}},
		"done":                       {projections.ScheduleFilter{Status: "done"}, []string{launchC.ID}},
		"u2's done":                  {projections.ScheduleFilter{Owner: "u2", Status: "done"}, []string{}},
		"deleted (never listed)":     {projections.ScheduleFilter{Status: "deleted"}, []string{}},
		"after the deleted \"gone\"": {projections.ScheduleFilter{After: gone.ID}, wantAll[1:]},
		"first of the launches":      {projections.ScheduleFilter{After: hourly.ID, Limit: 1}, launches[:1]},
	} {
		if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s list: %q, want %q", name, got, tc.want)
		}
	}
	if _, err := reads.List(ctx, projections.ScheduleFilter{After: "page-2"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad cursor: %v", err)
	}

	// Run 1: succeeded at once.
	r1 := getRun(run1.ID)
	if r1.ScheduleID != hourly.ID || r1.Owner != "u1" || r1.Trigger != "scheduler" || r1.FireKey != domain.TimeFireKey(at(11, 0)) ||
		r1.Status != "succeeded" || r1.Attempts != 1 || r1.MaxRetries != 2 || r1.Error != "" || r1.NextRetryAt != nil ||
		!r1.DueAt.Equal(at(11, 0)) || !r1.FiredAt.Equal(col(fire1At)) || r1.Version != 2 || len(r1.History) != 1 {
		t.Fatalf("run 1: %+v", r1)
	}
	wantTime(t, "run 1 started_at", r1.StartedAt, run1Start)
	wantTime(t, "run 1 ended_at", r1.EndedAt, run1End)
	wantMS(t, "run 1 duration", r1.DurationMS, 2000)
	jsonEqual(t, "run 1 result", r1.Result, `{"status":200}`)
	if a := r1.History[0]; a.Attempt != 1 || a.Outcome != "succeeded" || !a.StartedAt.Equal(run1Start) || a.Error != "" ||
		a.WillRetry || a.RetryAt != nil {
		t.Fatalf("run 1 attempt: %+v", a)
	} else {
		wantTime(t, "run 1 attempt ended_at", a.EndedAt, run1End)
		wantMS(t, "run 1 attempt duration", a.DurationMS, 2000)
	}

	// Run 2: succeeded on its retry.
	r2 := getRun(run2.ID)
	if r2.Status != "succeeded" || r2.Attempts != 2 || r2.Error != "" || r2.NextRetryAt != nil || r2.Version != 4 || len(r2.History) != 2 {
		t.Fatalf("run 2: %+v", r2)
	}
	jsonEqual(t, "run 2 result", r2.Result, `{"status":201}`)
	wantMS(t, "run 2 duration (both attempts and the delay)", r2.DurationMS, ms(run2End.Sub(run2Start)))
	wantTime(t, "run 2 ended_at", r2.EndedAt, run2End)
	first, second := r2.History[0], r2.History[1]
	if first.Attempt != 1 || first.Outcome != "failed" || first.Error != "connection reset" || !first.WillRetry ||
		!first.StartedAt.Equal(run2Start) {
		t.Fatalf("run 2 attempt 1: %+v", first)
	}
	wantTime(t, "run 2 attempt 1 ended_at", first.EndedAt, run2Fail)
	wantExact(t, "run 2 attempt 1 retry_at", first.RetryAt, run2Fail.Add(time.Minute))
	wantMS(t, "run 2 attempt 1 duration", first.DurationMS, 1000)
	if second.Attempt != 2 || second.Outcome != "succeeded" || second.Error != "" || second.WillRetry || second.RetryAt != nil ||
		!second.StartedAt.Equal(run2Retry) {
		t.Fatalf("run 2 attempt 2: %+v", second)
	}
	wantTime(t, "run 2 attempt 2 ended_at", second.EndedAt, run2End)
	wantMS(t, "run 2 attempt 2 duration", second.DurationMS, 2000)

	// Run 3: failed with its retries spent.
	r3 := getRun(run3.ID)
	if r3.Status != "failed" || r3.Attempts != 3 || r3.Error != "HTTP 500" || r3.Result != nil || r3.NextRetryAt != nil ||
		r3.Version != 7 || len(r3.History) != 3 {
		t.Fatalf("run 3: %+v", r3)
	}
	wantTime(t, "run 3 ended_at", r3.EndedAt, run3End)
	wantMS(t, "run 3 duration", r3.DurationMS, ms(run3End.Sub(run3Start)))
	for i, want := range []struct {
		start, end time.Time
		err        string
		retry      bool
	}{
		{run3Start, run3Fail1, "HTTP 503", true},
		{run3Attempt2, run3Fail2, "HTTP 503", true},
		{run3Attempt3, run3End, "HTTP 500", false},
	} {
		a := r3.History[i]
		if a.Attempt != i+1 || a.Outcome != "failed" || a.Error != want.err || a.WillRetry != want.retry || !a.StartedAt.Equal(want.start) {
			t.Fatalf("run 3 attempt %d: %+v", i+1, a)
		}
		wantTime(t, "run 3 attempt ended_at", a.EndedAt, want.end)
		wantMS(t, "run 3 attempt duration", a.DurationMS, ms(want.end.Sub(want.start)))
		if want.retry {
			wantExact(t, "run 3 attempt retry_at", a.RetryAt, want.end.Add(time.Minute))
		} else {
			wantNoTime(t, "run 3 last attempt retry_at", a.RetryAt)
		}
	}

	// Run 4: fired by recovery, still running.
	r4 := getRun(run4.ID)
	if r4.Trigger != "recovery" || r4.Status != "running" || r4.Attempts != 1 || r4.EndedAt != nil || r4.DurationMS != nil ||
		r4.Result != nil || r4.Version != 1 || len(r4.History) != 1 || r4.History[0].Outcome != "running" || r4.History[0].EndedAt != nil ||
		!r4.DueAt.Equal(at(16, 0)) {
		t.Fatalf("run 4: %+v", r4)
	}
	wantTime(t, "run 4 started_at", r4.StartedAt, run4Start)

	// Run 5 and B's run: fired, never started.
	for _, id := range []string{fired5.RunID, firedB.RunID} {
		r := getRun(id)
		if r.Status != "pending" || r.Attempts != 0 || r.Version != 0 || r.StartedAt != nil || r.EndedAt != nil || r.Result != nil ||
			r.History == nil || len(r.History) != 0 {
			t.Fatalf("pending run %s: %+v", id, r)
		}
	}
	if r5 := getRun(fired5.RunID); r5.Trigger != "manual" || r5.FireKey != fired5.FireKey || r5.MaxRetries != 2 ||
		!r5.DueAt.Equal(col(manualAt)) || !r5.FiredAt.Equal(col(manualAt)) {
		t.Fatalf("run 5: %+v", r5)
	}
	if rb := getRun(firedB.RunID); rb.Owner != "u2" || rb.MaxRetries != 0 || !rb.FiredAt.Equal(col(fireBAt)) || !rb.DueAt.Equal(at(10, 10)) {
		t.Fatalf("B's run: %+v", rb)
	}

	// E's run: failed without retry.
	re := getRun(runE.ID)
	if re.Trigger != "event" || re.FireKey != firedE.FireKey || re.Status != "failed" || re.Attempts != 1 || re.Error != "agent gone" ||
		len(re.History) != 1 || re.History[0].Outcome != "failed" || re.History[0].WillRetry || !re.DueAt.Equal(col(eventAt)) {
		t.Fatalf("E's run: %+v", re)
	}
	wantMS(t, "E's run duration", re.DurationMS, ms(runEEnd.Sub(runEStart)))
	if rc := getRun(runC.ID); rc.Status != "succeeded" {
		t.Fatalf("C's run: %+v", rc)
	} else {
		jsonEqual(t, "C's run result", rc.Result, `{"task":"t1"}`)
	}
	if rh := getRun(runH.ID); rh.Status != "succeeded" || string(rh.Result) != "null" {
		t.Fatalf("H's run: %+v (result %s)", rh, rh.Result)
	}
	if _, err := reads.Run(ctx, uuid.NewString()); !notFound(err, "run not found") {
		t.Fatalf("unknown run: %v", err)
	}
	if _, err := reads.Run(ctx, "nope"); !notFound(err, "run not found") {
		t.Fatalf("malformed run id: %v", err)
	}

	// Run lists: newest due first, paged by the last run's id, windows inclusive.
	runs := func(f projections.ScheduleRunFilter) []string {
		t.Helper()
		vs, err := reads.Runs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return scheduleRunIDs(vs)
	}
	wantA := []string{run4.ID, fired5.RunID, run3.ID, run2.ID, run1.ID}
	if got := runs(projections.ScheduleRunFilter{ScheduleID: hourly.ID}); !reflect.DeepEqual(got, wantA) {
		t.Fatalf("A's runs: %q, want %q", got, wantA)
	}
	var pagedRuns []string
	for before := ""; ; {
		page := runs(projections.ScheduleRunFilter{ScheduleID: hourly.ID, Before: before, Limit: 2})
		pagedRuns = append(pagedRuns, page...)
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1]
	}
	if !reflect.DeepEqual(pagedRuns, wantA) {
		t.Fatalf("paged runs: %q, want %q", pagedRuns, wantA)
	}
	noon, one := at(12, 0), at(13, 0)
	beforeNoon := noon.Add(-time.Microsecond)
	for name, tc := range map[string]struct {
		f    projections.ScheduleRunFilter
		want []string
	}{
		"12:00 to 13:00":    {projections.ScheduleRunFilter{ScheduleID: hourly.ID, From: &noon, To: &one}, []string{run3.ID, run2.ID}},
		"from 13:00":        {projections.ScheduleRunFilter{From: &one}, []string{run4.ID, fired5.RunID, run3.ID}},
		"to before noon":    {projections.ScheduleRunFilter{ScheduleID: hourly.ID, To: &beforeNoon}, []string{run1.ID}},
		"u2's":              {projections.ScheduleRunFilter{Owner: "u2"}, []string{runE.ID, runH.ID, firedB.RunID}},
		"failed":            {projections.ScheduleRunFilter{Status: "failed"}, []string{run3.ID, runE.ID}},
		"pending":           {projections.ScheduleRunFilter{Status: "pending"}, []string{fired5.RunID, firedB.RunID}},
		"u1's succeeded":    {projections.ScheduleRunFilter{Owner: "u1", Status: "succeeded"}, []string{run2.ID, run1.ID, runC.ID}},
		"before run 3":      {projections.ScheduleRunFilter{ScheduleID: hourly.ID, Before: run3.ID}, []string{run2.ID, run1.ID}},
		"of a deleted one":  {projections.ScheduleRunFilter{ScheduleID: gone.ID}, []string{}},
		"of a non-uuid one": {projections.ScheduleRunFilter{ScheduleID: "nope"}, []string{}},
	} {
		if got := runs(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s runs: %q, want %q", name, got, tc.want)
		}
	}
	if _, err := reads.Runs(ctx, projections.ScheduleRunFilter{Before: "page-2"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad run cursor: %v", err)
	}

	// Delivering every event again changes nothing: the version guards hold.
	sum, err := model.Checksum(ctx, e.db.SQL)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(6 + 9); sum.Rows != want {
		t.Fatalf("checksum over %d rows, want %d", sum.Rows, want)
	}
	events, err := e.store.ReadAfter(ctx, e.db.SQL, eventlog.Cursor{}, eventlog.Filter{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := model.Apply(ctx, tx, ev); err != nil {
			_ = tx.Rollback()
			t.Fatalf("redeliver %s: %v", ev.Type, err)
		}
	}
	again2, err := model.Checksum(ctx, tx)
	_ = tx.Rollback()
	if err != nil || again2 != sum {
		t.Fatalf("after redelivery %+v %v, want %+v", again2, err, sum)
	}

	// Should a run's start ever be projected before its fire, the two still make the same row.
	var fired, started eventlog.Event
	for _, ev := range events {
		switch {
		case ev.Type == domain.EventScheduleFired && ev.StreamID == domain.ScheduleStreamID(hourly.ID) && ev.Version == hourly.Version:
			fired = ev
		case ev.Type == domain.EventScheduleRunStarted && ev.StreamID == domain.ScheduleRunStreamID(run4.ID):
			started = ev
		}
	}
	if fired.Position == 0 || started.Position == 0 {
		t.Fatal("run 4's fire and start are not in the log")
	}
	if tx, err = e.db.SQL.BeginTx(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schedule_runs WHERE id = $1`, run4.ID); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	for _, ev := range []eventlog.Event{started, fired} {
		if err := model.Apply(ctx, tx, ev); err != nil {
			_ = tx.Rollback()
			t.Fatalf("apply %s out of order: %v", ev.Type, err)
		}
	}
	swapped, err := model.Checksum(ctx, tx)
	_ = tx.Rollback()
	if err != nil || swapped != sum {
		t.Fatalf("start before fire %+v %v, want %+v", swapped, err, sum)
	}

	// Rebuilt from the log, twice, the model is the same.
	firstReplay, err := projections.Replay(ctx, e.store, model)
	if err != nil {
		t.Fatal(err)
	}
	secondReplay, err := projections.Replay(ctx, e.store, model)
	if err != nil {
		t.Fatal(err)
	}
	if firstReplay.Checksum != sum || secondReplay.Checksum != sum || firstReplay.Events != int64(len(events)) {
		t.Fatalf("live %+v, replays %+v %+v", sum, firstReplay, secondReplay)
	}
	if r, err := reads.Run(ctx, run2.ID); err != nil || !reflect.DeepEqual(r, r2) {
		t.Fatalf("run 2 after the replay:\n got %+v %v\nwant %+v", r, err, r2)
	}
	if v, err := reads.Get(ctx, hourly.ID); err != nil || !reflect.DeepEqual(v, a) {
		t.Fatalf("A after the replay:\n got %+v %v\nwant %+v", v, err, a)
	}
	// The replay left the fire claims alone: they are not the projection's.
	var claims int
	if err := e.db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM schedule_fires`).Scan(&claims); err != nil || claims != 0 {
		t.Fatalf("schedule_fires: %d rows %v", claims, err)
	}
}

// TestScheduleFireClaimsAndEventSubscriptions covers the two tables beside the read model: a
// fire key is claimed once per schedule, and the event-trigger subscriptions match by type,
// activity and position.
func TestScheduleFireClaimsAndEventSubscriptions(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	q := dbq.New()
	db := e.db.SQL

	s1, s2, s3 := uuid.New(), uuid.New(), uuid.New()
	r1, r2 := uuid.New(), uuid.New()
	key := domain.TimeFireKey(time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC))
	claim := func(schedule uuid.UUID, key string, run uuid.UUID) int64 {
		t.Helper()
		n, err := q.ClaimScheduleFire(ctx, db, dbq.ClaimScheduleFireParams{ScheduleID: schedule, FireKey: key, RunID: run})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := claim(s1, key, r1); n != 1 {
		t.Fatalf("first claim: %d rows", n)
	}
	if n := claim(s1, key, r2); n != 0 {
		t.Fatalf("second claim of the same due time: %d rows", n)
	}
	if n := claim(s1, "manual:x", r2); n != 1 {
		t.Fatalf("another key of the same schedule: %d rows", n)
	}
	if n := claim(s2, key, r2); n != 1 {
		t.Fatalf("the same key of another schedule: %d rows", n)
	}
	var winner uuid.UUID
	if err := db.QueryRowContext(ctx, `SELECT run_id FROM schedule_fires WHERE schedule_id = $1 AND fire_key = $2`, s1, key).Scan(&winner); err != nil || winner != r1 {
		t.Fatalf("claimed by %s %v, want the first claimant %s", winner, err, r1)
	}

	upsert := func(schedule uuid.UUID, eventType string, active bool, since int64) {
		t.Helper()
		if err := q.UpsertScheduleEventSubscription(ctx, db, dbq.UpsertScheduleEventSubscriptionParams{ScheduleID: schedule,
			EventType: eventType, Active: active, SincePosition: since}); err != nil {
			t.Fatal(err)
		}
	}
	match := func(eventType string, position int64) []string {
		t.Helper()
		ids, err := q.MatchingScheduleEventSubscriptions(ctx, db, dbq.MatchingScheduleEventSubscriptionsParams{EventType: eventType, Position: position})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		return out
	}
	want := func(what string, got []string, ids ...uuid.UUID) {
		t.Helper()
		w := make([]string, len(ids))
		for i, id := range ids {
			w[i] = id.String()
		}
		sort.Strings(w)
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("%s: %q, want %q", what, got, w)
		}
	}
	upsert(s1, "agent.created", true, 10)
	upsert(s2, "agent.created", true, 20)
	upsert(s3, "user.created", true, 0)
	want("an event at 10 (subscribed at 10 is too late)", match("agent.created", 10))
	want("an event at 15", match("agent.created", 15), s1)
	want("an event at 21", match("agent.created", 21), s1, s2)
	want("another type", match("chat.created", 21))

	if err := q.SetScheduleEventSubscriptionActive(ctx, db, dbq.SetScheduleEventSubscriptionActiveParams{ScheduleID: s1, Active: false}); err != nil {
		t.Fatal(err)
	}
	want("s1 paused", match("agent.created", 21), s2)
	upsert(s2, "user.created", true, 30) // its spec changed type
	want("agent.created after s2 moved", match("agent.created", 31))
	want("user.created at 31", match("user.created", 31), s2, s3)
	want("user.created at 25 (before s2 subscribed)", match("user.created", 25), s3)
	if err := q.SetScheduleEventSubscriptionActive(ctx, db, dbq.SetScheduleEventSubscriptionActiveParams{ScheduleID: s1, Active: true}); err != nil {
		t.Fatal(err)
	}
	want("s1 resumed", match("agent.created", 11), s1)
	if err := q.DeleteScheduleEventSubscription(ctx, db, s3); err != nil {
		t.Fatal(err)
	}
	want("s3 deleted", match("user.created", 31), s2)
}
