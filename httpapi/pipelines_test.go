package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gathering/gathering/app"
)

// allowLocalActions lets action nodes call the tests' 127.0.0.1 services.
func allowLocalActions(o *app.Options) { o.Tools.AllowPrivateNetworks = true }

func fieldsOf(t *testing.T, r response) map[string]string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error in %s", r.body)
	}
	out := map[string]string{}
	list, _ := e["fields"].([]any)
	for _, f := range list {
		m := f.(map[string]any)
		out[m["field"].(string)] = m["message"].(string)
	}
	if len(list) == 0 {
		out[fmt.Sprint(e["field"])] = fmt.Sprint(e["message"])
	}
	return out
}

// TestPipelineValidationListsEveryError: a definition with many problems is refused with a 400
// that lists each one at its field; the validate endpoints give the same verdict without
// storing anything, and nothing is appended to the log.
func TestPipelineValidationListsEveryError(t *testing.T) {
	s := start(t)
	// As a member: an admin may use anyone's agent.
	s.token, _ = s.member("other@example.com")
	foreign := s.createAgent("NotYours")["id"].(string)
	s.token, _ = s.member("author@example.com")
	before := s.eventCount()

	broken := map[string]any{
		"name": "",
		"nodes": []any{
			map[string]any{"id": "a", "type": "trigger"},
			map[string]any{"id": "b", "type": "teleport"},
			map[string]any{"id": "c", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": "input.("}}},
			map[string]any{"id": "d", "type": "delay", "config": map[string]any{"seconds": -1}},
			map[string]any{"id": "e", "type": "agent", "config": map[string]any{"agent_id": foreign, "prompt": "hi"}},
			map[string]any{"id": "f", "type": "action", "config": map[string]any{"action": "noop"}},
			map[string]any{"id": "a", "type": "merge"},
		},
		"edges": []any{
			map[string]any{"from": "a", "to": "ghost"},
			map[string]any{"from": "c", "to": "d"},
			map[string]any{"from": "d", "to": "f", "condition": "output.ok =="},
			map[string]any{"from": "f", "to": "c"},
		},
		"timeout_sec": -5,
	}
	r := s.do("POST", "/pipelines", broken)
	if r.status != 400 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := fieldsOf(t, r)
	want := map[string]string{
		"name":                      "is required",
		"timeout_sec":               "must be between",
		"nodes[1].type":             `unknown type "teleport"`,
		"nodes[2].config.mapping.x": "at position",
		"nodes[3].config.seconds":   "",
		"nodes[4].config.agent_id":  "no agent of yours",
		"nodes[6].id":               `"a" is already the id of nodes[0]`,
		"edges[0].to":               `no node has the id "ghost"`,
		"edges[2].condition":        "",
		"edges":                     "cycle: c -> d -> f -> c",
	}
	for field, msg := range want {
		if !strings.Contains(got[field], msg) || got[field] == "" {
			t.Errorf("field %s: %q, want it to mention %q", field, got[field], msg)
		}
	}
	if t.Failed() {
		t.Fatalf("all fields: %v", got)
	}

	cases := []struct{ body, field string }{
		{`{"name": "x", "nodes": []}`, "nodes"},
		{`{"name": "x"}`, "nodes"},
		{`{"name": "x", "nodes": "a"}`, "nodes"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "trigger"}], "colour": "red"}`, "colour"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "delay", "config": {"seconds": 1, "extra": true}}]}`, "nodes[0].config.extra"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "action", "config": {"action": "http_request"}}]}`, "nodes[0].config.url"},
		{`{"name": "x", "nodes": [{"id": "9a", "type": "trigger"}]}`, "nodes[0].id"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "trigger", "retry": {"max_attempts": 99}}]}`, "nodes[0].retry.max_attempts"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "trigger", "breaker": {"failure_threshold": -1}}]}`, "nodes[0].breaker.failure_threshold"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "trigger"}, {"id": "m", "type": "merge"}], "edges": [{"from": "a", "to": "m"}]}`, "nodes[1]"},
		{`{"name": "x", "nodes": [{"id": "a", "type": "trigger"}, {"id": "t", "type": "trigger"}], "edges": [{"from": "a", "to": "t"}]}`, "edges[0].to"},
		{`{"name": "x"`, "body"},
	}
	for _, c := range cases {
		r := s.do("POST", "/pipelines", c.body)
		if r.status != 400 {
			t.Errorf("%s: status %d", c.body, r.status)
			continue
		}
		if f := fieldsOf(t, r); f[c.field] == "" {
			t.Errorf("%s: fields %v, want %s", c.body, f, c.field)
		}
	}

	r = s.do("POST", "/pipelines/validate", broken)
	if r.status != 200 {
		t.Fatalf("validate: %d %s", r.status, r.body)
	}
	v := r.json(t)
	if v["valid"] != false || len(v["errors"].([]any)) != len(got) {
		t.Fatalf("validate gave %d errors, create %d: %s", len(v["errors"].([]any)), len(got), r.body)
	}
	if after := s.eventCount(); after != before {
		t.Fatalf("invalid definitions appended %d events", after-before)
	}

	r = s.do("POST", "/pipelines", map[string]any{"name": "ok", "nodes": []any{map[string]any{"id": "a", "type": "trigger"}}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := s.do("POST", "/pipelines/"+id+"/validate", nil); r.status != 200 || r.json(t)["valid"] != true {
		t.Fatalf("validate stored: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/pipelines/"+id+"/validate", broken); r.status != 200 || r.json(t)["valid"] != false {
		t.Fatalf("validate a draft of a stored pipeline: %d %s", r.status, r.body)
	}
	// An update that breaks the definition is refused the same way, and the stored one stays.
	if r := s.do("PUT", "/pipelines/"+id, broken); r.status != 400 || len(fieldsOf(t, r)) != len(got) {
		t.Fatalf("broken update: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/pipelines/"+id, nil); r.json(t)["spec_version"] != 1.0 {
		t.Fatalf("after a refused update: %s", r.body)
	}
}

// waitRun polls a run until it has ended.
func (s *server) waitRun(path string, within time.Duration) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.do("GET", path, nil)
		if r.status != 200 {
			s.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		run := r.json(s.t)
		switch run["status"] {
		case "completed", "failed", "cancelled", "timed_out":
			return run
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run still %v after %s: %s", run["status"], within, r.body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func nodesByID(run map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, n := range run["nodes"].([]any) {
		m := n.(map[string]any)
		out[m["node"].(string)] = m
	}
	return out
}

// TestPipelineLifecycleThroughHTTP: define, read, update with If-Match, run with parallel
// branches, follow the run on the pipeline's feed, read its nodes' inputs, outputs, attempts
// and times afterwards, and delete.
func TestPipelineLifecycleThroughHTTP(t *testing.T) {
	s := start(t, allowLocalActions)
	var mu sync.Mutex
	var calls []string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		firstFlaky := r.URL.Path == "/flaky" && !contains(calls, "/flaky")
		calls = append(calls, r.URL.Path)
		mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		if firstFlaky {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"from":"` + r.URL.Path + `"}`))
	}))
	defer svc.Close()

	def := map[string]any{
		"name": "enrich", "description": "two lookups in parallel, then a summary",
		"nodes": []any{
			map[string]any{"id": "start", "type": "trigger"},
			map[string]any{"id": "left", "type": "action", "config": map[string]any{"action": "http_request", "url": svc.URL + "/flaky"},
				"retry": map[string]any{"max_attempts": 3, "initial_backoff_ms": 50}},
			map[string]any{"id": "right", "type": "action", "config": map[string]any{"action": "http_request", "url": svc.URL + "/right", "method": "POST"}},
			map[string]any{"id": "join", "type": "merge"},
			map[string]any{"id": "say", "type": "transform", "config": map[string]any{"template": "{{input.left.body.from}} and {{input.right.body.from}}"}},
		},
		"edges": []any{
			map[string]any{"from": "start", "to": "left"}, map[string]any{"from": "start", "to": "right"},
			map[string]any{"from": "left", "to": "join"}, map[string]any{"from": "right", "to": "join"},
			map[string]any{"from": "join", "to": "say"},
		},
	}
	r := s.do("POST", "/pipelines", def)
	if r.status != 201 || r.header.Get("ETag") != `"1"` || !strings.HasPrefix(r.header.Get("Location"), "/pipelines/") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	p := r.json(t)
	id := p["id"].(string)
	if p["node_count"] != 5.0 || p["spec_version"] != 1.0 || p["spec"].(map[string]any)["timeout_sec"] != 3600.0 {
		t.Fatalf("created: %s", r.body)
	}
	if r := s.do("GET", "/pipelines", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	// Another member sees none of it.
	owner := s.token
	s.token, _ = s.member("stranger@example.com")
	if r := s.do("GET", "/pipelines/"+id, nil); r.status != 403 {
		t.Fatalf("a stranger read the pipeline: %d", r.status)
	}
	if r := s.do("POST", "/pipelines/"+id+"/runs", nil); r.status != 403 {
		t.Fatalf("a stranger ran the pipeline: %d", r.status)
	}
	if r := s.do("GET", "/pipelines", nil); len(r.json(t)["items"].([]any)) != 0 {
		t.Fatalf("a stranger lists %s", r.body)
	}
	s.token = owner

	def["description"] = "updated"
	if r := s.do("PUT", "/pipelines/"+id, def, "If-Match", `"1"`); r.status != 200 || r.json(t)["spec_version"] != 2.0 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", "/pipelines/"+id, def, "If-Match", `"1"`); r.status != 409 {
		t.Fatalf("stale update: %d %s", r.status, r.body)
	}

	feed := dial(t, s, "/ws/pipelines/"+id)
	r = s.do("POST", "/pipelines/"+id+"/runs", map[string]any{"input": map[string]any{"topic": "weather"}})
	if r.status != 202 {
		t.Fatalf("run: %d %s", r.status, r.body)
	}
	run := r.json(t)
	runPath := r.header.Get("Location")
	// Read-your-writes: the run and its nodes are there at once.
	if run["status"] != "running" || run["pipeline_version"] != 2.0 || len(run["nodes"].([]any)) != 5 || runPath == "" {
		t.Fatalf("started run: %s", r.body)
	}
	done := s.waitRun(runPath, 30*time.Second)
	if done["status"] != "completed" {
		t.Fatalf("run: %v", done)
	}
	nodes := nodesByID(done)
	if out := nodes["say"]["output"]; out != "/flaky and /right" {
		t.Fatalf("say output %v", out)
	}
	left := nodes["left"]
	hist := left["history"].([]any)
	if left["attempts"] != 2.0 || left["retries"] != 1.0 || len(hist) != 2 {
		t.Fatalf("left node: %v", left)
	}
	first := hist[0].(map[string]any)
	if first["outcome"] != "failed" || first["will_retry"] != true || !strings.Contains(first["error"].(string), "HTTP 503") {
		t.Fatalf("left's first attempt: %v", first)
	}
	if in := nodes["left"]["input"].(map[string]any); in["topic"] != "weather" {
		t.Fatalf("left's input %v", in)
	}
	// The two branches' first attempts overlapped in time (each call takes 300 ms).
	ts := func(n map[string]any, k string) time.Time {
		v, _ := time.Parse(time.RFC3339Nano, n[k].(string))
		return v
	}
	lStart, lEnd := ts(first, "started_at"), ts(first, "ended_at")
	if rStart, rEnd := ts(nodes["right"], "started_at"), ts(nodes["right"], "ended_at"); !lStart.Before(rEnd) || !rStart.Before(lEnd) {
		t.Fatalf("the branches did not overlap: left %s..%s, right %s..%s", lStart, lEnd, rStart, rEnd)
	}
	for _, n := range nodes {
		if n["duration_ms"] == nil || n["status"] != "completed" {
			t.Fatalf("node %v", n)
		}
	}

	// The feed carried the whole run in order, from its start to its end.
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "pipeline_run.completed" {
		m := read(t, feed)
		if strings.HasPrefix(m.Type, "pipeline_") {
			seen = append(seen, m.Type)
		}
	}
	if seen[0] != "pipeline_run.started" || !contains(seen, "pipeline_node.failed") || count(seen, "pipeline_node.completed") != 5 {
		t.Fatalf("feed: %v", seen)
	}

	if r := s.do("GET", "/pipelines/"+id+"/runs", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("runs: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/pipelines/"+id+"/runs?status=completed&limit=1", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("runs by status: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"?status=done", "?limit=0", "?cursor=nope"} {
		if r := s.do("GET", "/pipelines/"+id+"/runs"+bad, nil); r.status != 400 {
			t.Fatalf("runs%s: %d", bad, r.status)
		}
	}
	if r := s.do("POST", runPath+"/cancel", nil); r.status != 409 {
		t.Fatalf("cancelling a completed run: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/pipelines/"+id+"/runs", `{"input": {"broken": }`); r.status != 400 {
		t.Fatalf("malformed input: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/pipelines/"+id+"/runs/00000000-0000-0000-0000-000000000000", nil); r.status != 404 {
		t.Fatalf("unknown run: %d", r.status)
	}

	if r := s.do("DELETE", "/pipelines/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// The runs of a deleted pipeline can still be read (and, were they running, cancelled).
	if r := s.do("GET", runPath, nil); r.status != 200 || r.json(t)["status"] != "completed" {
		t.Fatalf("a run of the deleted pipeline: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/pipelines/"+id, nil); r.status != 404 {
		t.Fatalf("after delete: %d", r.status)
	}
	if r := s.do("POST", "/pipelines/"+id+"/runs", nil); r.status != 404 {
		t.Fatalf("run after delete: %d", r.status)
	}
}

// TestPipelineRunCancelAndTimeoutThroughHTTP: a run waiting in a delay node is cancelled
// through the API and ends cancelled, its node stopped cooperatively; a run past its timeout
// ends timed_out with the node interrupted.
func TestPipelineRunCancelAndTimeoutThroughHTTP(t *testing.T) {
	s := start(t)
	r := s.do("POST", "/pipelines", map[string]any{"name": "waits", "nodes": []any{
		map[string]any{"id": "wait", "type": "delay", "config": map[string]any{"seconds": 25}},
		map[string]any{"id": "after", "type": "action", "config": map[string]any{"action": "noop"}},
	}, "edges": []any{map[string]any{"from": "wait", "to": "after"}}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	r = s.do("POST", "/pipelines/"+id+"/runs", nil)
	runPath := r.header.Get("Location")
	for {
		run := s.do("GET", runPath, nil).json(t)
		if nodesByID(run)["wait"]["status"] == "running" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.do("POST", runPath+"/cancel", map[string]any{"reason": "no longer needed", "extra": 1}); r.status != 400 {
		t.Fatalf("cancel with an unknown field: %d", r.status)
	}
	r = s.do("POST", runPath+"/cancel", map[string]any{"reason": "no longer needed"})
	if r.status != 202 || (r.json(t)["status"] != "cancelling" && r.json(t)["status"] != "cancelled") {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	run := s.waitRun(runPath, 10*time.Second)
	nodes := nodesByID(run)
	if run["status"] != "cancelled" || run["cancel_forced"] == true || run["cancel_reason"] != "no longer needed" ||
		nodes["wait"]["status"] != "failed" || nodes["wait"]["error"] != "cancelled: no longer needed" || nodes["after"]["status"] != "pending" {
		t.Fatalf("cancelled run: %v", run)
	}

	r = s.do("PUT", "/pipelines/"+id, map[string]any{"name": "waits", "timeout_sec": 1, "nodes": []any{
		map[string]any{"id": "wait", "type": "delay", "config": map[string]any{"seconds": 25}},
	}})
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/pipelines/"+id+"/runs", nil)
	run = s.waitRun(r.header.Get("Location"), 15*time.Second)
	if run["status"] != "timed_out" || nodesByID(run)["wait"]["status"] != "interrupted" {
		t.Fatalf("timed out run: %v", run)
	}
}

func contains(list []string, s string) bool { return count(list, s) > 0 }

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
