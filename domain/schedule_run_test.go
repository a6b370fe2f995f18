package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
)

var runStart = time.Date(2027, 1, 4, 9, 0, 2, 0, time.UTC)

// runHarness drives a run the way the run job does: decide, then fold what was decided.
type runHarness struct {
	t   *testing.T
	run *domain.ScheduleRun
	log []domain.Event
}

// newRun fires a schedule with maxRetries and starts the run of that fire.
func newRun(t *testing.T, maxRetries int) *runHarness {
	t.Helper()
	spec := dailyAtNine()
	spec.MaxRetries, spec.RetryDelaySec, spec.TimeoutSec = maxRetries, 120, 600
	sched := newSchedule(t, spec)
	fired := sched.fire("run-1")
	h := &runHarness{t: t, run: &domain.ScheduleRun{}}
	h.must(h.run.Start("run-1", sched.s, *fired, runStart))
	return h
}

func (h *runHarness) must(events []domain.Event, err error) []domain.Event {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range events {
		h.run.Apply(e)
	}
	h.log = append(h.log, events...)
	return events
}

func eventTypes(events []domain.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.EventType()
	}
	return out
}

func TestRunStartSnapshotsTheSchedule(t *testing.T) {
	h := newRun(t, 2)
	r := h.run
	if r.ID != "run-1" || r.ScheduleID != "s1" || r.Owner != schedOwner.ID || r.Trigger != domain.TriggerScheduler ||
		!r.DueAt.Equal(at(4, 9, 0)) || r.Action != domain.ActionRunTask || !strings.Contains(string(r.ActionConfig), schedAgentID) ||
		r.MaxRetries != 2 || r.RetryDelaySec != 120 || r.TimeoutSec != 600 {
		t.Fatalf("run: %+v", r)
	}
	if r.Status != domain.ScheduleRunStatusRunning || r.Attempt != 1 || !r.StartedAt.Equal(runStart) || !r.AttemptAt.Equal(runStart) || r.Finished() {
		t.Fatalf("first attempt: %+v", r)
	}
	refusedWith(t, domain.CodeConflict)(r.Start("run-1", &domain.Schedule{}, domain.ScheduleFired{}, runStart))

	var none domain.ScheduleRun
	refusedWith(t, domain.CodeNotFound)(none.StartAttempt(1, runStart))
	refusedWith(t, domain.CodeNotFound)(none.Succeed(1, nil, runStart))
	refusedWith(t, domain.CodeNotFound)(none.Fail(1, "x", true, runStart))
}

func TestFailedAttemptsAreRetriedThenTheRunFails(t *testing.T) {
	h := newRun(t, 1)
	failedAt := runStart.Add(3 * time.Second)
	events := h.must(h.run.Fail(1, "  upstream 503  ", true, failedAt))
	want := []domain.Event{&domain.ScheduleRunAttemptFailed{Attempt: 1, Error: "upstream 503", Retryable: true, WillRetry: true,
		RetryAt: failedAt.Add(120 * time.Second), DurationMS: 3000}}
	if !reflect.DeepEqual(events, want) {
		t.Fatalf("first failure:\n got %+v\nwant %+v", events[0], want[0])
	}
	if h.run.Status != domain.ScheduleRunStatusRetrying || !h.run.RetryAt.Equal(failedAt.Add(2*time.Minute)) || h.run.Error != "upstream 503" {
		t.Fatalf("retrying: %+v", h.run)
	}
	conflict := refusedWith(t, domain.CodeConflict)
	conflict(h.run.Succeed(1, nil, failedAt))
	conflict(h.run.Fail(1, "again", true, failedAt))
	conflict(h.run.StartAttempt(1, failedAt))
	conflict(h.run.StartAttempt(3, failedAt))

	retryAt := failedAt.Add(2 * time.Minute)
	h.must(h.run.StartAttempt(2, retryAt))
	if h.run.Status != domain.ScheduleRunStatusRunning || h.run.Attempt != 2 || !h.run.AttemptAt.Equal(retryAt) || !h.run.RetryAt.IsZero() {
		t.Fatalf("second attempt: %+v", h.run)
	}
	// A job that died mid-attempt starts it again: nothing to record.
	if events, err := h.run.StartAttempt(2, retryAt.Add(time.Minute)); err != nil || events != nil {
		t.Fatalf("same attempt again: %v %v", events, err)
	}
	conflict(h.run.Fail(1, "stale", true, retryAt))

	endedAt := retryAt.Add(1500 * time.Millisecond)
	events = h.must(h.run.Fail(2, "upstream 503", true, endedAt))
	if got := eventTypes(events); !reflect.DeepEqual(got, []string{domain.EventScheduleRunAttemptFailed, domain.EventScheduleRunFailed}) {
		t.Fatalf("last failure: %v", got)
	}
	if af := events[0].(*domain.ScheduleRunAttemptFailed); af.WillRetry || !af.RetryAt.IsZero() || af.DurationMS != 1500 || !af.Retryable {
		t.Fatalf("attempt failed: %+v", af)
	}
	if f := events[1].(*domain.ScheduleRunFailed); f.Attempt != 2 || f.Error != "upstream 503" || f.DurationMS != endedAt.Sub(runStart).Milliseconds() {
		t.Fatalf("failed: %+v", f)
	}
	if h.run.Status != domain.ScheduleRunStatusFailed || !h.run.Finished() {
		t.Fatalf("run: %+v", h.run)
	}
	conflict(h.run.Succeed(2, nil, endedAt))
	conflict(h.run.Fail(2, "x", true, endedAt))
	conflict(h.run.StartAttempt(3, endedAt))
}

func TestNonRetryableFailureEndsTheRunAtOnce(t *testing.T) {
	h := newRun(t, 5)
	events := h.must(h.run.Fail(1, "", false, runStart.Add(time.Second)))
	if got := eventTypes(events); !reflect.DeepEqual(got, []string{domain.EventScheduleRunAttemptFailed, domain.EventScheduleRunFailed}) {
		t.Fatalf("events: %v", got)
	}
	if af := events[0].(*domain.ScheduleRunAttemptFailed); af.WillRetry || af.Retryable || af.Error != "failed" {
		t.Fatalf("attempt failed: %+v", af)
	}
	if h.run.Status != domain.ScheduleRunStatusFailed || h.run.Error != "failed" {
		t.Fatalf("run: %+v", h.run)
	}

	// With no retries at all, a retryable failure ends the run as well.
	z := newRun(t, 0)
	z.must(z.run.Fail(1, "timeout", true, runStart.Add(time.Second)))
	if z.run.Status != domain.ScheduleRunStatusFailed {
		t.Fatalf("no retries: %+v", z.run)
	}
}

func TestFailureMessagesAreBounded(t *testing.T) {
	h := newRun(t, 0)
	events := h.must(h.run.Fail(1, strings.Repeat("é", domain.MaxScheduleRunErrorLen+10), false, runStart))
	msg := events[1].(*domain.ScheduleRunFailed).Error
	if n := utf8.RuneCountInString(msg); n != domain.MaxScheduleRunErrorLen || !strings.HasSuffix(msg, "…") || !utf8.ValidString(msg) {
		t.Fatalf("%d runes, suffix %q", n, msg[len(msg)-5:])
	}
}

func TestSucceedKeepsACompactResult(t *testing.T) {
	h := newRun(t, 3)
	h.must(h.run.Fail(1, "flaky", true, runStart.Add(time.Second)))
	h.must(h.run.StartAttempt(2, runStart.Add(2*time.Minute)))
	done := runStart.Add(2*time.Minute + 2500*time.Millisecond)
	events := h.must(h.run.Succeed(2, json.RawMessage("{\n  \"status\": 200,\n  \"body\": [1, 2]\n}"), done))
	want := []domain.Event{&domain.ScheduleRunSucceeded{Attempt: 2, Result: json.RawMessage(`{"status":200,"body":[1,2]}`),
		DurationMS: done.Sub(runStart).Milliseconds()}}
	if !reflect.DeepEqual(events, want) {
		t.Fatalf("succeeded:\n got %+v\nwant %+v", events[0], want[0])
	}
	if h.run.Status != domain.ScheduleRunStatusSucceeded || h.run.Error != "" || string(h.run.Result) != `{"status":200,"body":[1,2]}` || !h.run.Finished() {
		t.Fatalf("run: %+v", h.run)
	}
	conflict := refusedWith(t, domain.CodeConflict)
	conflict(h.run.Succeed(2, nil, done))
	conflict(h.run.Fail(2, "late", true, done))
	conflict(h.run.StartAttempt(3, done))

	for raw, want := range map[string]string{
		"":         "null",
		"   ":      "null",
		"not json": `{"note":"the result was too large or not JSON and was not kept"}`,
		`"` + strings.Repeat("x", domain.MaxScheduleRunResultBytes) + `"`: `{"note":"the result was too large or not JSON and was not kept"}`,
	} {
		r := newRun(t, 0)
		events := r.must(r.run.Succeed(1, json.RawMessage(raw), runStart))
		if got := string(events[0].(*domain.ScheduleRunSucceeded).Result); got != want {
			t.Errorf("result of %.20q: %s", raw, got)
		}
	}
}

func TestRunEventsRoundTripThroughTheRegistry(t *testing.T) {
	h := newRun(t, 1)
	h.must(h.run.Fail(1, "flaky", true, runStart.Add(time.Second)))
	h.must(h.run.StartAttempt(2, runStart.Add(2*time.Minute)))
	h.must(h.run.Succeed(2, json.RawMessage(`{"ok":true}`), runStart.Add(3*time.Minute)))

	var replayed domain.ScheduleRun
	for _, e := range h.log {
		typ, version, payload, err := domain.Events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := domain.Events.Decode(typ, version, payload)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		replayed.Apply(decoded)
	}
	if !reflect.DeepEqual(replayed, *h.run) {
		t.Fatalf("replayed %+v\n    live %+v", replayed, *h.run)
	}
}
