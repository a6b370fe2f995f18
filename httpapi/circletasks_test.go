package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

type circleTaskResp struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	OfferedTo  string `json:"offered_to"`
	AssigneeID string `json:"assignee_id"`
	ReviewerID string `json:"reviewer_id"`
	Iteration  int    `json:"iteration"`
	Result     string `json:"result"`
	Version    int64  `json:"version"`
}

// crew makes a running circle whose members have the given roles and competencies, keyed by
// a short name, and returns their agent ids.
func (s *server) crew(circle string, members map[string]struct {
	role  string
	comps []string
}) map[string]string {
	s.t.Helper()
	if r := s.do("POST", "/circles", map[string]any{"name": circle}); r.status != 201 {
		s.t.Fatalf("circle: %d %s", r.status, r.body)
	}
	ids := map[string]string{}
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		m := members[n]
		ids[n] = s.offlineAgent()
		if r := s.do("POST", "/circles/"+circle+"/members", map[string]any{"agent_id": ids[n], "role": m.role, "competencies": m.comps}); r.status != 200 {
			s.t.Fatalf("member %s: %d %s", n, r.status, r.body)
		}
	}
	if r := s.do("POST", "/circles/"+circle+"/start", nil); r.status != 200 {
		s.t.Fatalf("start: %d %s", r.status, r.body)
	}
	return ids
}

type member = struct {
	role  string
	comps []string
}

func (s *server) ctask(method, path string, body any, want int) circleTaskResp {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.status != want {
		s.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	var t circleTaskResp
	if err := json.Unmarshal(r.body, &t); err != nil {
		s.t.Fatal(err)
	}
	return t
}

func TestCircleTaskFlowThroughChangesApprovalAndRejection(t *testing.T) {
	s := start(t)
	ids := s.crew("builders", map[string]member{
		"dev":   {"member", []string{"go", "sql"}},
		"css":   {"member", []string{"css"}},
		"rev":   {"reviewer", []string{"review"}},
		"watch": {"observer", []string{"go", "sql"}},
	})
	feed := dial(t, s, "/ws/circles/builders")
	base := "/circles/builders/tasks"

	created := s.ctask("POST", base, map[string]any{"title": "Write the parser", "required_competencies": []string{"Go", "SQL"}, "priority": 2}, 201)
	if created.Status != "offered" || created.OfferedTo != ids["dev"] {
		t.Fatalf("routed: %+v (dev %s)", created, ids["dev"])
	}
	one := base + "/" + created.ID
	// Read-your-writes: the list already has it.
	if r := s.do("GET", base+"?status=offered", nil); r.status != 200 || !strings.Contains(string(r.body), created.ID) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := s.do("POST", one+"/claim", map[string]any{"agent_id": ids["css"]}); r.status != 409 {
		t.Fatalf("claim by another member: %d %s", r.status, r.body)
	}
	claimed := s.ctask("POST", one+"/claim", map[string]any{"agent_id": ids["dev"]}, 200)
	if claimed.Status != "in_progress" || claimed.AssigneeID != ids["dev"] {
		t.Fatalf("claimed: %+v", claimed)
	}
	s.ctask("POST", one+"/files", map[string]any{"agent_id": ids["dev"], "path": "src/parser.go"}, 200)
	submitted := s.ctask("POST", one+"/submit", map[string]any{"agent_id": ids["dev"], "result": "parser v1"}, 200)
	if submitted.Status != "in_review" || submitted.ReviewerID != ids["rev"] || submitted.Result != "parser v1" {
		t.Fatalf("submitted: %+v", submitted)
	}
	if r := s.do("POST", one+"/review", map[string]any{"reviewer_id": ids["dev"], "decision": "approve"}); r.status != 400 {
		t.Fatalf("self review: %d %s", r.status, r.body)
	}
	changes := s.ctask("POST", one+"/review", map[string]any{"reviewer_id": ids["rev"], "decision": "request_changes", "comments": "handle empty input"}, 200)
	if changes.Status != "in_progress" || changes.Iteration != 2 {
		t.Fatalf("changes requested: %+v", changes)
	}
	s.ctask("POST", one+"/submit", map[string]any{"agent_id": ids["dev"], "result": "parser v2"}, 200)
	done := s.ctask("POST", one+"/review", map[string]any{"reviewer_id": ids["rev"], "decision": "approve", "comments": "good"}, 200)
	if done.Status != "completed" || done.Result != "parser v2" || done.Iteration != 2 {
		t.Fatalf("approved: %+v", done)
	}
	// The whole story is in the task's history, in order.
	var detail struct {
		History []struct{ Type string } `json:"history"`
	}
	_ = json.Unmarshal(s.do("GET", one, nil).body, &detail)
	var story []string
	for _, h := range detail.History {
		story = append(story, strings.TrimPrefix(h.Type, "circle."))
	}
	want := "task_created task_offered task_claimed file_claimed task_submitted task_changes_requested task_submitted task_approved task_completed file_released"
	if strings.Join(story, " ") != want {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(story, " "), want)
	}

	// Rejection blocks the task and escalates to people.
	second := s.ctask("POST", base, map[string]any{"title": "Migrate the schema", "required_competencies": []string{"sql"}}, 201)
	two := base + "/" + second.ID
	s.ctask("POST", two+"/claim", map[string]any{"agent_id": ids["dev"]}, 200)
	s.ctask("POST", two+"/submit", map[string]any{"agent_id": ids["dev"], "result": "dropped the table"}, 200)
	if r := s.do("POST", two+"/review", map[string]any{"reviewer_id": ids["rev"], "decision": "reject"}); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "comments" {
		t.Fatalf("reject without a reason: %d %s", r.status, r.body)
	}
	blocked := s.ctask("POST", two+"/review", map[string]any{"reviewer_id": ids["rev"], "decision": "reject", "comments": "data loss"}, 200)
	if blocked.Status != "blocked" {
		t.Fatalf("rejected: %+v", blocked)
	}
	var esc struct {
		Items []struct {
			TaskID   string `json:"task_id"`
			Severity string `json:"severity"`
			Detail   string `json:"detail"`
			AgentID  string `json:"agent_id"`
		} `json:"items"`
	}
	_ = json.Unmarshal(s.do("GET", "/circles/builders/escalations", nil).body, &esc)
	if len(esc.Items) != 1 || esc.Items[0].TaskID != second.ID || esc.Items[0].Severity != "high" || esc.Items[0].Detail != "data loss" ||
		esc.Items[0].AgentID != ids["dev"] {
		t.Fatalf("escalations: %+v", esc)
	}
	// A person re-routes the blocked task; it goes to the best fit again.
	if rerouted := s.ctask("POST", two+"/route", nil, 200); rerouted.Status != "offered" || rerouted.OfferedTo != ids["dev"] {
		t.Fatalf("re-routed: %+v", rerouted)
	}

	// Every step reached the circle's feed.
	seen := map[string]bool{}
	_ = feed.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !seen["circle.escalation_raised"] {
		var m struct{ Type string }
		if err := feed.ReadJSON(&m); err != nil {
			t.Fatalf("feed: %v (seen %v)", err, seen)
		}
		seen[m.Type] = true
	}
	for _, typ := range []string{"circle.task_created", "circle.task_offered", "circle.task_claimed", "circle.task_submitted",
		"circle.task_changes_requested", "circle.task_approved", "circle.task_completed", "circle.task_rejected"} {
		if !seen[typ] {
			t.Errorf("%s not on the circle's feed", typ)
		}
	}
}

func TestCircleTaskRoutingWeighsCompetencyWorkloadAndApproval(t *testing.T) {
	s := start(t)
	ids := s.crew("routing", map[string]member{
		"d1":  {"member", []string{"go"}},
		"d2":  {"member", []string{"go"}},
		"d3":  {"specialist", []string{"go", "sql"}},
		"rev": {"reviewer", nil},
	})
	base := "/circles/routing/tasks"
	// Full competency match wins.
	t1 := s.ctask("POST", base, map[string]any{"title": "t1", "required_competencies": []string{"go", "sql"}}, 201)
	if t1.OfferedTo != ids["d3"] {
		t.Fatalf("t1 went to %s, want d3 (the only one with go and sql)", t1.OfferedTo)
	}
	// Equal match: the less busy go first; d3 holds t1, d1 and d2 tie and the lower id wins.
	first, second := ids["d1"], ids["d2"]
	if second < first {
		first, second = second, first
	}
	t2 := s.ctask("POST", base, map[string]any{"title": "t2", "required_competencies": []string{"go"}}, 201)
	t3 := s.ctask("POST", base, map[string]any{"title": "t3", "required_competencies": []string{"go"}}, 201)
	if t2.OfferedTo != first || t3.OfferedTo != second {
		t.Fatalf("t2 -> %s, t3 -> %s; want %s then %s (workload)", t2.OfferedTo, t3.OfferedTo, first, second)
	}
	// first's work is rejected, second's approved: with equal workloads, the record decides.
	review := func(task circleTaskResp, agent, decision string) {
		s.ctask("POST", base+"/"+task.ID+"/claim", map[string]any{"agent_id": agent}, 200)
		s.ctask("POST", base+"/"+task.ID+"/submit", map[string]any{"agent_id": agent, "result": "work"}, 200)
		s.ctask("POST", base+"/"+task.ID+"/review", map[string]any{"reviewer_id": ids["rev"], "decision": decision, "comments": "verdict"}, 200)
	}
	review(t2, first, "reject")
	review(t3, second, "approve")
	t4 := s.ctask("POST", base, map[string]any{"title": "t4", "required_competencies": []string{"go"}}, 201)
	if t4.OfferedTo != second {
		t.Fatalf("t4 went to %s, want %s (approved before) over %s (rejected)", t4.OfferedTo, second, first)
	}
	// The offer records every candidate's score.
	var detail struct {
		History []struct {
			Type string
			Data struct {
				Scores []struct {
					AgentID      string  `json:"agent_id"`
					ApprovalRate float64 `json:"approval_rate"`
				} `json:"scores"`
			} `json:"data"`
		} `json:"history"`
	}
	_ = json.Unmarshal(s.do("GET", base+"/"+t4.ID, nil).body, &detail)
	offer := detail.History[1]
	if offer.Type != "circle.task_offered" || len(offer.Data.Scores) != 3 || offer.Data.Scores[0].AgentID != second ||
		offer.Data.Scores[0].ApprovalRate <= 0.6 {
		t.Fatalf("offer: %+v", offer)
	}
	// A refusal passes the task to the next best who has not refused.
	refused := s.ctask("POST", base+"/"+t4.ID+"/refuse", map[string]any{"agent_id": second, "reason": "on leave"}, 200)
	if refused.Status != "offered" || refused.OfferedTo == second || refused.OfferedTo == "" {
		t.Fatalf("after refusal: %+v", refused)
	}
	// A person can name the member instead.
	manual := s.ctask("POST", base+"/"+t4.ID+"/route", map[string]any{"agent_id": second}, 200)
	if manual.OfferedTo != second {
		t.Fatalf("manual route: %+v", manual)
	}
	// Nobody with the competency: the task waits, pending, and says why in its history.
	lone := s.ctask("POST", base, map[string]any{"title": "styles", "required_competencies": []string{"css"}}, 201)
	if lone.Status != "pending" || lone.OfferedTo != "" {
		t.Fatalf("unroutable: %+v", lone)
	}
}

func TestCircleTaskFileCollisionsAreRefusedAndRecorded(t *testing.T) {
	s := start(t)
	ids := s.crew("files", map[string]member{"a": {"member", []string{"go"}}, "b": {"member", []string{"go"}}})
	base := "/circles/files/tasks"
	mk := func(title, agent string) string {
		tk := s.ctask("POST", base, map[string]any{"title": title, "requires_review": false}, 201)
		s.ctask("POST", base+"/"+tk.ID+"/route", map[string]any{"agent_id": agent}, 200)
		s.ctask("POST", base+"/"+tk.ID+"/claim", map[string]any{"agent_id": agent}, 200)
		return tk.ID
	}
	ta, tb := mk("refactor", ids["a"]), mk("feature", ids["b"])
	s.ctask("POST", base+"/"+ta+"/files", map[string]any{"agent_id": ids["a"], "path": "src/a.go"}, 200)
	r := s.do("POST", base+"/"+tb+"/files", map[string]any{"agent_id": ids["b"], "path": "src/./a.go"})
	if r.status != 409 || r.json(t)["error"].(map[string]any)["field"] != "path" || !strings.Contains(string(r.body), ta) {
		t.Fatalf("collision: %d %s", r.status, r.body)
	}
	// The conflict is recorded and visible at once.
	var conflicts struct {
		Items []struct {
			Kind          string `json:"kind"`
			TaskID        string `json:"task_id"`
			Path          string `json:"path"`
			HolderTaskID  string `json:"holder_task_id"`
			HolderAgentID string `json:"holder_agent_id"`
		} `json:"items"`
	}
	_ = json.Unmarshal(s.do("GET", "/circles/files/conflicts", nil).body, &conflicts)
	if len(conflicts.Items) != 1 || conflicts.Items[0].Kind != "file_collision" || conflicts.Items[0].TaskID != tb ||
		conflicts.Items[0].Path != "src/a.go" || conflicts.Items[0].HolderTaskID != ta || conflicts.Items[0].HolderAgentID != ids["a"] {
		t.Fatalf("conflicts: %+v", conflicts)
	}
	if r := s.do("POST", base+"/"+tb+"/files", map[string]any{"agent_id": ids["b"], "path": "../etc/passwd"}); r.status != 400 {
		t.Fatalf("path outside the workspace: %d", r.status)
	}
	// Releasing (explicitly, or by finishing the task) frees the path.
	if r := s.do("DELETE", base+"/"+ta+"/files?path=src/a.go", nil); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	s.ctask("POST", base+"/"+tb+"/files", map[string]any{"agent_id": ids["b"], "path": "src/a.go"}, 200)
	s.ctask("POST", base+"/"+tb+"/submit", map[string]any{"agent_id": ids["b"], "result": "shipped"}, 200)
	s.ctask("POST", base+"/"+ta+"/files", map[string]any{"agent_id": ids["a"], "path": "src/a.go"}, 200)
}

func TestCircleTaskBadInputIsRefusedAndAppendsNothing(t *testing.T) {
	s := start(t)
	ids := s.crew("strict-tasks", map[string]member{"a": {"member", []string{"go"}}})
	stranger := s.offlineAgent()
	base := "/circles/strict-tasks/tasks"
	ok := s.ctask("POST", base, map[string]any{"title": "fine"}, 201)
	before := s.eventCount()
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{base, map[string]any{"title": ""}, "title"},
		{base, map[string]any{"title": "x", "priority": 11}, "priority"},
		{base, map[string]any{"title": "x", "required_competencies": []string{"go", " "}}, "required_competencies[1]"},
		{base, map[string]any{"title": "x", "project_id": "00000000-0000-0000-0000-000000000000"}, "project_id"},
		{base, map[string]any{"title": "x", "colour": "red"}, "colour"},
		{base + "/" + ok.ID + "/claim", map[string]any{}, "agent_id"},
		{base + "/" + ok.ID + "/claim", map[string]any{"agent_id": stranger}, "agent_id"},
		{base + "/" + ok.ID + "/route", map[string]any{"agent_id": stranger}, "agent_id"},
		{base + "/" + ok.ID + "/files", map[string]any{"agent_id": ids["a"], "path": "/abs"}, "path"},
	} {
		r := s.do("POST", c.path, c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%s %v: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	s.ctask("POST", base+"/"+ok.ID+"/claim", map[string]any{"agent_id": ids["a"]}, 200)
	before = s.eventCount()
	if r := s.do("POST", base+"/"+ok.ID+"/submit", map[string]any{"agent_id": ids["a"], "result": ""}); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "result" {
		t.Fatalf("empty result: %d %s", r.status, r.body)
	}
	if r := s.do("POST", base+"/"+ok.ID+"/review", map[string]any{"decision": "maybe"}); r.status != 409 {
		t.Fatalf("review before submission: %d %s", r.status, r.body)
	}
	if s.eventCount() != before {
		t.Fatal("refused steps appended events")
	}
	if r := s.do("GET", base+"/00000000-0000-0000-0000-000000000000", nil); r.status != 404 {
		t.Fatalf("unknown task: %d", r.status)
	}
	if r := s.do("POST", base+"/not-a-uuid/claim", map[string]any{"agent_id": ids["a"]}); r.status != 404 {
		t.Fatalf("malformed task id: %d", r.status)
	}
	s.do("POST", "/circles/strict-tasks/stop", nil)
	if r := s.do("POST", base, map[string]any{"title": "late"}); r.status != 409 {
		t.Fatalf("task in a stopped circle: %d %s", r.status, r.body)
	}
}
