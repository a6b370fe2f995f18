package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestScheduleBadInputsNameTheField: each schedule type's own field missing or invalid, and the
// other usual mistakes, answer 400 naming the field, and nothing is appended.
func TestScheduleBadInputsNameTheField(t *testing.T) {
	s := start(t)
	s.token, _ = s.member("planner@example.com")
	before := s.eventCount()
	notify := map[string]any{"url": "https://example.com/hook"}
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "daily", "action": "send_notification", "action_config": notify}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		body  any
		field string
	}{
		{base(map[string]any{"type": "cron"}), "cron"},
		{base(map[string]any{"type": "cron", "cron": "61 * * * *"}), "cron"},
		{base(map[string]any{"type": "cron", "cron": "* * * * * *"}), "cron"},
		{base(map[string]any{"type": "cron", "cron": "0 9 * * *", "time_zone": "Mars/Olympus"}), "time_zone"},
		{base(map[string]any{"type": "interval"}), "interval_sec"},
		{base(map[string]any{"type": "interval", "interval_sec": 30}), "interval_sec"},
		{base(map[string]any{"type": "once"}), "run_at"},
		{base(map[string]any{"type": "once", "run_at": "tomorrow at nine"}), "run_at"},
		{base(map[string]any{"type": "once", "run_at": "2001-01-01T00:00:00Z"}), "run_at"},
		{base(map[string]any{"type": "event"}), "event_type"},
		{base(map[string]any{"type": "event", "event_type": "Not An Event"}), "event_type"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "cron": "0 9 * * *"}), "cron"},
		{base(map[string]any{"type": "hourly"}), "type"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "action": "launch"}), "action"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "action_config": map[string]any{"message": "x"}}), "action_config.url"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "action": "call_api", "action_config": map[string]any{"url": "ftp://x"}}), "action_config.url"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "action": "run_task",
			"action_config": map[string]any{"agent_id": "00000000-0000-0000-0000-000000000001", "goal": "x"}}), "action_config.agent_id"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "max_retries": 50}), "max_retries"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "missed_policy": "whenever"}), "missed_policy"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}), "end_at"},
		{base(map[string]any{"type": "interval", "interval_sec": "60"}), "interval_sec"},
		{base(map[string]any{"type": "interval", "interval_sec": 60, "colour": "red"}), "colour"},
	}
	for _, c := range cases {
		r := s.do("POST", "/schedules", c.body)
		if r.status != 400 {
			t.Errorf("%v: status %d %s", c.body, r.status, r.body)
			continue
		}
		if f := fieldsOf(t, r); f[c.field] == "" {
			t.Errorf("%v: fields %v, want %s", c.body, f, c.field)
		}
	}
	// Every problem at once.
	r := s.do("POST", "/schedules", map[string]any{"type": "once", "action": "call_api", "action_config": map[string]any{}, "retry_delay_sec": -1})
	if f := fieldsOf(t, r); len(f) < 4 || f["name"] == "" || f["run_at"] == "" || f["action_config.url"] == "" || f["retry_delay_sec"] == "" {
		t.Errorf("all problems: %v", f)
	}
	if after := s.eventCount(); after != before {
		t.Fatalf("bad inputs appended %d events", after-before)
	}
}

// TestScheduleLifecycleThroughHTTP: a cron schedule in a time zone shows its next due time and
// its upcoming runs across a daylight-saving change; it pauses and resumes; triggered now, it
// runs its webhook and the run is listed with its final status and on the schedule's feed and
// calendar; it is updated with If-Match and deleted.
func TestScheduleLifecycleThroughHTTP(t *testing.T) {
	s := start(t, allowLocalActions)
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer hook.Close()
	def := map[string]any{"name": "morning digest", "type": "cron", "cron": "0 9 * * *", "time_zone": "Europe/Paris",
		"action": "send_notification", "action_config": map[string]any{"url": hook.URL + "/digest", "message": "good morning"}, "max_retries": 2}
	r := s.do("POST", "/schedules", def)
	if r.status != 201 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	sc := r.json(t)
	id := sc["id"].(string)
	next, err := time.Parse(time.RFC3339Nano, sc["next_due_at"].(string))
	paris, _ := time.LoadLocation("Europe/Paris")
	if err != nil || next.In(paris).Hour() != 9 || next.In(paris).Minute() != 0 || !next.After(time.Now()) || sc["status"] != "active" {
		t.Fatalf("created: %s", r.body)
	}

	r = s.do("GET", "/schedules/"+id+"/upcoming?from=2027-03-26T00:00:00Z&to=2027-03-31T00:00:00Z", nil)
	if r.status != 200 {
		t.Fatalf("upcoming: %d %s", r.status, r.body)
	}
	items := r.json(t)["items"].([]any)
	var hours []int
	for _, it := range items {
		d, _ := time.Parse(time.RFC3339Nano, it.(map[string]any)["due_at"].(string))
		hours = append(hours, d.UTC().Hour())
	}
	// 09:00 in Paris is 08:00 UTC before the change of 28 March 2027 and 07:00 UTC from it on.
	if len(hours) != 5 || hours[0] != 8 || hours[1] != 8 || hours[2] != 7 || hours[4] != 7 {
		t.Fatalf("upcoming UTC hours %v: %s", hours, r.body)
	}
	for _, bad := range []string{"?from=yesterday", "?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z", "?limit=0"} {
		if r := s.do("GET", "/schedules/"+id+"/upcoming"+bad, nil); r.status != 400 {
			t.Fatalf("upcoming%s: %d", bad, r.status)
		}
	}

	if r := s.do("POST", "/schedules/"+id+"/pause", nil); r.status != 200 || r.json(t)["status"] != "paused" {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/schedules/"+id+"/upcoming", nil); len(r.json(t)["items"].([]any)) != 0 {
		t.Fatalf("a paused schedule has upcoming runs: %s", r.body)
	}
	if r := s.do("POST", "/schedules/"+id+"/resume", nil); r.status != 200 || r.json(t)["status"] != "active" {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/schedules/"+id+"/resume", nil); r.status != 409 {
		t.Fatalf("resume an active schedule: %d", r.status)
	}

	feed := dial(t, s, "/ws/schedules/"+id)
	r = s.do("POST", "/schedules/"+id+"/trigger", nil)
	if r.status != 202 || r.json(t)["trigger"] != "manual" {
		t.Fatalf("trigger: %d %s", r.status, r.body)
	}
	runPath := r.header.Get("Location")
	var run map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; {
		run = s.do("GET", runPath, nil).json(t)
		if run["status"] == "succeeded" || run["status"] == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run: %v", run)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if run["status"] != "succeeded" || run["attempts"] != 1.0 || run["duration_ms"] == nil || calls.Load() != 1 {
		t.Fatalf("run %v, %d calls", run, calls.Load())
	}
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "schedule_run.succeeded" {
		if m := read(t, feed); strings.HasPrefix(m.Type, "schedule") {
			seen = append(seen, m.Type)
		}
	}
	if !contains(seen, "schedule.fired") || !contains(seen, "schedule_run.started") {
		t.Fatalf("feed: %v", seen)
	}
	if r := s.do("GET", "/schedules/"+id+"/runs", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("runs: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/schedules/"+id+"/runs?status=nope", nil); r.status != 400 {
		t.Fatalf("runs?status=nope: %d", r.status)
	}
	r = s.do("GET", "/schedules/calendar", nil)
	cal := r.json(t)
	if r.status != 200 || len(cal["runs"].([]any)) != 1 || len(cal["upcoming"].([]any)) < 30 {
		t.Fatalf("calendar: %d runs %d upcoming: %s", len(cal["runs"].([]any)), len(cal["upcoming"].([]any)), r.body)
	}
	if r := s.do("GET", "/schedules", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}

	owner := s.token
	s.token, _ = s.member("nosy@example.com")
	if r := s.do("GET", "/schedules/"+id, nil); r.status != 403 {
		t.Fatalf("a stranger read the schedule: %d", r.status)
	}
	if r := s.do("POST", "/schedules/"+id+"/trigger", nil); r.status != 403 {
		t.Fatalf("a stranger triggered the schedule: %d", r.status)
	}
	s.token = owner

	version := s.do("GET", "/schedules/"+id, nil).header.Get("ETag")
	def["cron"] = "30 7 * * 1-5"
	if r := s.do("PUT", "/schedules/"+id, def, "If-Match", version); r.status != 200 || r.json(t)["spec"].(map[string]any)["cron"] != "30 7 * * 1-5" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", "/schedules/"+id, def, "If-Match", version); r.status != 409 {
		t.Fatalf("stale update: %d", r.status)
	}
	if r := s.do("DELETE", "/schedules/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/schedules/"+id, nil); r.status != 404 {
		t.Fatalf("after delete: %d", r.status)
	}
}
