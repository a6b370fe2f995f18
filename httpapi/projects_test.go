package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

type projectBody struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	DisplayName   string   `json:"display_name"`
	Description   string   `json:"description"`
	RepositoryURL string   `json:"repository_url"`
	DefaultBranch string   `json:"default_branch"`
	TechStack     []string `json:"tech_stack"`
	Languages     []string `json:"languages"`
	Frameworks    []string `json:"frameworks"`
	Owner         string   `json:"owner"`
	Status        string   `json:"status"`
	Version       int64    `json:"version"`
	Circles       []struct {
		CircleID string `json:"circle_id"`
		Name     string `json:"name"`
	} `json:"circles"`
}

func project(t *testing.T, r response) projectBody {
	t.Helper()
	var p projectBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	return p
}

func errorField(t *testing.T, r response) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func TestProjectsLifecycle(t *testing.T) {
	s := start(t)
	before := s.eventCount()
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"name":""}`, "name"},
		{`{"name":"Has Spaces"}`, "name"},
		{`{"name":"ok-name","colour":"red"}`, "colour"},
		{`{"name":"ok-name","display_name":"` + strings.Repeat("x", 121) + `"}`, "display_name"},
		{`{"name":"ok-name","repository_url":"ftp://example.com/x"}`, "repository_url"},
		{`{"name":"ok-name","repository_url":"https://me:token@github.com/a/b"}`, "repository_url"},
		{`{"name":"ok-name","default_branch":"a..b"}`, "default_branch"},
		{`{"name":"ok-name","tech_stack":["go",""]}`, "tech_stack[1]"},
		{`{"name":"ok-name","languages":"go"}`, "languages"},
		{`{"name":"ok-name","conventions":"` + strings.Repeat("x", 5001) + `"}`, "conventions"},
		{`{"name":"ok-name"`, "body"},
	} {
		if r := s.do("POST", "/projects", c.body); r.status != 400 || errorField(t, r) != c.field {
			t.Errorf("%.80s: %d %s, want 400 on %s", c.body, r.status, r.body, c.field)
		}
	}
	if s.eventCount() != before {
		t.Fatal("invalid projects appended events")
	}

	r := s.do("POST", "/projects", map[string]any{"name": "GatheRing", "display_name": "GatheRing", "repository_url": "https://github.com/gathering/gathering",
		"tech_stack": []string{"Go", "PostgreSQL", "go"}, "languages": []string{"Go"}}, "Idempotency-Key", "create-1")
	p := project(t, r)
	if r.status != 201 || r.header.Get("Location") != "/projects/"+p.ID || r.header.Get("ETag") != `"1"` || p.Name != "gathering" ||
		p.DefaultBranch != "main" || p.Status != "active" || strings.Join(p.TechStack, ",") != "go,postgresql" || p.Frameworks == nil {
		t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
	}
	id := p.ID
	if again := s.do("POST", "/projects", map[string]any{"name": "GatheRing", "display_name": "GatheRing", "repository_url": "https://github.com/gathering/gathering",
		"tech_stack": []string{"Go", "PostgreSQL", "go"}, "languages": []string{"Go"}}, "Idempotency-Key", "create-1"); again.status != 201 ||
		again.header.Get("Idempotent-Replayed") != "true" || project(t, again).ID != id {
		t.Fatalf("retried create: %d %s", again.status, again.body)
	}
	if got := s.do("GET", "/projects/"+id, nil); got.status != 200 || project(t, got).DisplayName != "GatheRing" || got.header.Get("ETag") != `"1"` {
		t.Fatalf("read-your-writes: %d %s", got.status, got.body)
	}
	count := s.eventCount()
	if r := s.do("POST", "/projects", map[string]any{"name": "gathering"}); r.status != 409 || errorField(t, r) != "name" {
		t.Fatalf("duplicate name: %d %s", r.status, r.body)
	}
	if s.eventCount() != count {
		t.Fatal("a refused duplicate appended events")
	}

	// Updates: partial, pinned with If-Match, and a no-op records nothing.
	r = s.do("PATCH", "/projects/"+id, map[string]any{"description": "Agents that gather", "frameworks": []string{"Fiber"}}, "If-Match", `"1"`)
	if p := project(t, r); r.status != 200 || r.header.Get("ETag") != `"2"` || p.Description != "Agents that gather" || p.Frameworks[0] != "fiber" ||
		p.TechStack[0] != "go" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := s.do("PATCH", "/projects/"+id, map[string]any{"description": "stale"}, "If-Match", `"1"`); r.status != 409 ||
		r.json(t)["error"].(map[string]any)["code"] != "version_conflict" {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	count = s.eventCount()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"default_branch": "-x"}, "default_branch"},
		{map[string]any{"name": "renamed"}, "name"},
		{map[string]any{"languages": []string{strings.Repeat("x", 41)}}, "languages[0]"},
		{map[string]any{"owner": "someone"}, "owner"},
	} {
		if r := s.do("PATCH", "/projects/"+id, c.body); r.status != 400 || errorField(t, r) != c.field {
			t.Errorf("patch %v: %d %s", c.body, r.status, r.body)
		}
	}
	if r := s.do("PATCH", "/projects/"+id, map[string]any{}, "If-Match", "three"); r.status != 400 || errorField(t, r) != "If-Match" {
		t.Fatalf("bad If-Match: %d %s", r.status, r.body)
	}
	if r := s.do("PATCH", "/projects/"+id, map[string]any{"description": " Agents that gather "}); r.status != 200 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("no-op patch: %d %s", r.status, r.body)
	}
	if s.eventCount() != count {
		t.Fatal("refused or no-op patches appended events")
	}

	// Circles: linked by name, visible straight away, on the circle's feed too.
	if r := s.do("POST", "/circles", map[string]any{"name": "research"}); r.status != 201 {
		t.Fatalf("circle: %d %s", r.status, r.body)
	}
	feed := dial(t, s, "/ws/circles/research")
	for _, c := range []struct{ body, field string }{{`{"circle":""}`, "circle"}, {`{"circle":"nosuch"}`, "circle"}, {`{"circle":1}`, "circle"}} {
		if r := s.do("POST", "/projects/"+id+"/circles", c.body); r.status != 400 || errorField(t, r) != c.field {
			t.Errorf("link %s: %d %s", c.body, r.status, r.body)
		}
	}
	r = s.do("POST", "/projects/"+id+"/circles", map[string]any{"circle": "Research"})
	if p := project(t, r); r.status != 200 || len(p.Circles) != 1 || p.Circles[0].Name != "research" || p.Version != 3 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	// The circle's own creation may still be on its way to a feed dialled right after it.
	for m := read(t, feed); m.Type != "project.circle_linked"; m = read(t, feed) {
		if m.Type != "circle.created" {
			t.Fatalf("circle feed: %+v", m)
		}
	}
	count = s.eventCount()
	if r := s.do("POST", "/projects/"+id+"/circles", map[string]any{"circle": "research"}); r.status != 200 || s.eventCount() != count {
		t.Fatalf("linking twice: %d %s", r.status, r.body)
	}
	items := s.do("GET", "/projects/"+id+"/circles", nil).json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "research" {
		t.Fatalf("linked circles: %v", items)
	}

	// Another member sees none of it and cannot use someone else's circle.
	member, memberID := s.member("project-member@example.com")
	if r := s.do("GET", "/projects/"+id, nil, bearer(member)...); r.status != 403 {
		t.Fatalf("another's project: %d", r.status)
	}
	if r := s.do("PATCH", "/projects/"+id, map[string]any{"description": "mine"}, bearer(member)...); r.status != 403 {
		t.Fatalf("patch another's project: %d", r.status)
	}
	if r := s.do("POST", "/projects/"+id+"/archive", nil, bearer(member)...); r.status != 403 {
		t.Fatalf("archive another's project: %d", r.status)
	}
	if r := s.do("GET", "/projects/00000000-0000-0000-0000-000000000000", nil, bearer(member)...); r.status != 404 {
		t.Fatalf("no such project: %d", r.status)
	}
	r = s.do("POST", "/projects", map[string]any{"name": "mine"}, bearer(member)...)
	mine := project(t, r)
	if r.status != 201 || mine.Owner != memberID {
		t.Fatalf("member creates: %d %s", r.status, r.body)
	}
	count = s.eventCount()
	if r := s.do("POST", "/projects/"+mine.ID+"/circles", map[string]any{"circle": "research"}, bearer(member)...); r.status != 403 {
		t.Fatalf("member links the admin's circle: %d %s", r.status, r.body)
	}
	if s.eventCount() != count {
		t.Fatal("a refused link appended events")
	}
	if items := s.do("GET", "/projects", nil, bearer(member)...).json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "mine" {
		t.Fatalf("member's list: %v", items)
	}
	page := s.do("GET", "/projects?limit=1", nil).json(t)
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "gathering" || page["next_cursor"] == nil {
		t.Fatalf("admin's first page: %v", page)
	}
	page = s.do("GET", "/projects?limit=1&cursor="+page["next_cursor"].(string), nil).json(t)
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "mine" || page["next_cursor"] != nil {
		t.Fatalf("admin's second page: %v", page)
	}
	if r := s.do("GET", "/projects?status=done", nil); r.status != 400 || errorField(t, r) != "status" {
		t.Fatalf("bad status filter: %d %s", r.status, r.body)
	}

	// Unlink, then archive: an archived project refuses changes.
	r = s.do("DELETE", "/projects/"+id+"/circles/research", nil)
	if p := project(t, r); r.status != 200 || len(p.Circles) != 0 {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	if m := read(t, feed); m.Type != "project.circle_unlinked" {
		t.Fatalf("circle feed: %+v", m)
	}
	if items := s.do("GET", "/projects/"+id+"/circles", nil).json(t)["items"].([]any); len(items) != 0 {
		t.Fatalf("circles after unlink: %v", items)
	}
	if r := s.do("DELETE", "/projects/"+id+"/circles/research", nil); r.status != 404 {
		t.Fatalf("unlink twice: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/projects/"+id+"/archive", nil); r.status != 200 || project(t, r).Status != "archived" {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	count = s.eventCount()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/projects/" + id, map[string]any{"description": "after"}},
		{"POST", "/projects/" + id + "/circles", map[string]any{"circle": "research"}},
		{"POST", "/projects/" + id + "/archive", nil},
	} {
		if r := s.do(c.method, c.path, c.body); r.status != 409 {
			t.Errorf("%s %s on an archived project: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if s.eventCount() != count {
		t.Fatal("an archived project recorded changes")
	}
	if items := s.do("GET", "/projects?status=archived", nil).json(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("archived filter: %v", items)
	}
}
