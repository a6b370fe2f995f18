package httpapi_test

import (
	"encoding/json"
	"testing"
)

func TestCirclesLifecycleAndMembers(t *testing.T) {
	s := start(t)
	before := s.eventCount()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": "Has Spaces"}, "name"},
		{map[string]any{"name": "x"}, "name"},
		{map[string]any{"name": "ok-name", "colour": "red"}, "colour"},
	} {
		r := s.do("POST", "/circles", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}
	if s.eventCount() != before {
		t.Fatal("invalid circles appended events")
	}
	r := s.do("POST", "/circles", map[string]any{"name": "Research", "description": "Finds things out"})
	if r.status != 201 || r.json(t)["name"] != "research" || r.json(t)["status"] != "created" || r.header.Get("Location") != "/circles/research" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/circles", map[string]any{"name": "research"}); r.status != 409 || r.json(t)["error"].(map[string]any)["field"] != "name" {
		t.Fatalf("duplicate name: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/circles/research/start", nil); r.status != 409 {
		t.Fatalf("start without members: %d", r.status)
	}
	feed := dial(t, s, "/ws/circles/research")

	agent := s.offlineAgent()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"agent_id": agent, "role": "boss"}, "role"},
		{map[string]any{"agent_id": "00000000-0000-0000-0000-000000000000"}, "agent_id"},
		{map[string]any{"agent_id": "nope"}, "agent_id"},
		{map[string]any{"agent_id": agent, "competencies": []string{""}}, "competencies[0]"},
	} {
		r := s.do("POST", "/circles/research/members", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("member %v: %d %s", c.body, r.status, r.body)
		}
	}
	r = s.do("POST", "/circles/research/members", map[string]any{"agent_id": agent, "role": "specialist", "competencies": []string{"Go", "SQL", "go"}})
	var circle struct {
		Status  string
		Members []struct {
			AgentID      string   `json:"agent_id"`
			Role         string   `json:"role"`
			Competencies []string `json:"competencies"`
			AgentName    string   `json:"agent_name"`
			Provider     string   `json:"provider"`
		}
	}
	_ = json.Unmarshal(r.body, &circle)
	if r.status != 200 || len(circle.Members) != 1 || circle.Members[0].AgentName != "Thinker" || circle.Members[0].Provider != "offline" ||
		len(circle.Members[0].Competencies) != 2 || circle.Members[0].Role != "specialist" {
		t.Fatalf("add member: %d %s", r.status, r.body)
	}
	m := read(t, feed)
	if m.Type == "circle.created" { // still on its way when the feed was dialled
		m = read(t, feed)
	}
	if m.Type != "circle.member_added" {
		t.Fatalf("feed: %+v", m)
	}
	for _, step := range []struct{ action, status string }{{"start", "running"}, {"stop", "stopped"}, {"start", "running"}} {
		r := s.do("POST", "/circles/research/"+step.action, nil)
		if r.status != 200 || r.json(t)["status"] != step.status {
			t.Fatalf("%s: %d %s", step.action, r.status, r.body)
		}
	}
	if m := read(t, feed); m.Type != "circle.started" {
		t.Fatalf("feed: %+v", m)
	}
	if r := s.do("DELETE", "/circles/research/members/"+agent, nil); r.status != 200 || r.json(t)["members"] != nil {
		t.Fatalf("remove member: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/circles/research/archive", nil); r.status != 200 || r.json(t)["status"] != "archived" {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/circles/research/members", map[string]any{"agent_id": agent}); r.status != 409 {
		t.Fatalf("change an archived circle: %d", r.status)
	}

	// A member sees only its own circles, and cannot add someone else's agent.
	member, _ := s.member("circle-member@example.com")
	if r := s.do("GET", "/circles/research", nil, bearer(member)...); r.status != 403 {
		t.Fatalf("another's circle: %d", r.status)
	}
	if r := s.do("POST", "/circles", map[string]any{"name": "mine"}, bearer(member)...); r.status != 201 {
		t.Fatalf("member creates: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/circles/mine/members", map[string]any{"agent_id": agent}, bearer(member)...); r.status != 403 {
		t.Fatalf("member adds the admin's agent: %d %s", r.status, r.body)
	}
	items := s.do("GET", "/circles", nil, bearer(member)...).json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "mine" {
		t.Fatalf("member's list: %v", items)
	}
	if all := s.do("GET", "/circles", nil).json(t)["items"].([]any); len(all) != 2 {
		t.Fatalf("admin's list: %v", all)
	}
}
