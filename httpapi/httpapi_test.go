package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/ratelimit"
)

type server struct {
	t     *testing.T
	app   *app.App
	base  string
	token string // sent with every request unless a test overrides Authorization
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
)

var (
	hashOnce  sync.Once
	adminHash string
	secret    = []byte("test-secret-that-is-long-enough-for-hs256!")
)

// unlimited admits everything: functional tests send more requests than a person would.
type unlimited struct{}

func (unlimited) Take(_ context.Context, t ratelimit.Tier, _ string, now time.Time) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true, Limit: t.Limit, Remaining: t.Limit, Reset: now.Add(t.Window)}, nil
}

type option func(*app.Options)

func start(t *testing.T, opts ...option) *server {
	t.Helper()
	hashOnce.Do(func() {
		h, err := auth.HashPassword(adminPassword)
		if err != nil {
			t.Fatal(err)
		}
		adminHash = h
	})
	db := testdb.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := app.Options{Logger: zerolog.Nop(), ClientBuffer: 64, Secret: secret, AllowRegistration: true,
		Admin: app.AdminBootstrap{Email: adminEmail, PasswordHash: adminHash}, Limits: unlimited{}}
	for _, opt := range opts {
		opt(&o)
	}
	a, err := app.Start(context.Background(), db, ln, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(0, 5*time.Second) })
	s := &server{t: t, app: a, base: "http://" + a.Addr()}
	s.token = s.login(adminEmail, adminPassword)["access_token"].(string)
	return s
}

func (s *server) login(email, password string) map[string]any {
	s.t.Helper()
	r := s.do("POST", "/auth/login", map[string]any{"email": email, "password": password}, "Authorization", "")
	if r.status != 200 {
		s.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return r.json(s.t)
}

// member registers a member account and returns its access token and id.
func (s *server) member(email string) (token, id string) {
	s.t.Helper()
	r := s.do("POST", "/auth/register", map[string]any{"email": email, "password": "member password 123"}, "Authorization", "")
	if r.status != 201 {
		s.t.Fatalf("register %s: %d %s", email, r.status, r.body)
	}
	tokens := s.login(email, "member password 123")
	return tokens["access_token"].(string), r.json(s.t)["id"].(string)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (s *server) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

func (s *server) eventCount() int {
	var n int
	if err := s.app.DB.SQL.QueryRow(`SELECT count(*) FROM eventlog.events`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *server) createAgent(name string) map[string]any {
	s.t.Helper()
	r := s.do("POST", "/agents", map[string]any{"name": name, "provider": "offline"})
	if r.status != 201 {
		s.t.Fatalf("create %s: %d %s", name, r.status, r.body)
	}
	return r.json(s.t)
}

func TestCreateThenReadImmediately(t *testing.T) {
	s := start(t)
	// Many clients at once, each reading its own write straight away, with no sleep.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := s.do("POST", "/agents", map[string]any{"name": fmt.Sprintf("Agent %d", i), "provider": "anthropic",
				"personality": map[string]any{"traits": []string{"curious"}, "temperature": 0.2}, "tools": []string{"calculator"}})
			if r.status != 201 {
				t.Errorf("create: %d %s", r.status, r.body)
				return
			}
			created := r.json(t)
			if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/agents/"+created["id"].(string) {
				t.Errorf("headers: %v", r.header)
			}
			got := s.do("GET", "/agents/"+created["id"].(string), nil)
			if got.status != 200 {
				t.Errorf("read-your-writes failed: %d %s", got.status, got.body)
				return
			}
			a := got.json(t)
			if a["name"] != fmt.Sprintf("Agent %d", i) || a["model"] != "claude-sonnet-4-5" || a["version"].(float64) != 1 {
				t.Errorf("read back %v", a)
			}
		}(i)
	}
	wg.Wait()
}

func TestInvalidInputNamesTheFieldAndAppendsNothing(t *testing.T) {
	s := start(t)
	before := s.eventCount()
	cases := []struct {
		body  string
		field string
	}{
		{`{"name":""}`, "name"},
		{`{"name":"` + strings.Repeat("x", 65) + `"}`, "name"},
		{`{"name":"A","provider":"skynet"}`, "provider"},
		{`{"name":"A","personality":{"temperature":3}}`, "personality.temperature"},
		{`{"name":"A","personality":{"max_tokens":-5}}`, "personality.max_tokens"},
		{`{"name":"A","tools":["Not A Tool"]}`, "tools[0]"},
		{`{"name":"A","colour":"blue"}`, "colour"},
		{`{"name":42}`, "name"},
		{`{"name":"A"`, "body"},
		{``, "body"},
	}
	for _, c := range cases {
		r := s.do("POST", "/agents", c.body)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400", c.body, r.status)
			continue
		}
		e := r.json(t)["error"].(map[string]any)
		if e["field"] != c.field || e["code"] != "invalid" || e["message"] == "" || e["request_id"] == "" {
			t.Errorf("%s: error %v, want field %q", c.body, e, c.field)
		}
	}
	// Every broken rule is reported, not just the first.
	r := s.do("POST", "/agents", `{"name":"","provider":"skynet","personality":{"temperature":-1}}`)
	if fields := r.json(t)["error"].(map[string]any)["fields"].([]any); len(fields) != 3 {
		t.Errorf("want 3 field errors, got %v", fields)
	}
	if after := s.eventCount(); after != before {
		t.Fatalf("invalid requests appended %d events", after-before)
	}
}

func TestUpdateHonoursIfMatchAndDelete(t *testing.T) {
	s := start(t)
	a := s.createAgent("Grace")
	id := a["id"].(string)

	r := s.do("PATCH", "/agents/"+id, map[string]any{"role": "reviewer"}, "If-Match", `"1"`)
	if r.status != 200 || r.json(t)["role"] != "reviewer" || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = s.do("PATCH", "/agents/"+id, map[string]any{"role": "lead"}, "If-Match", `"1"`)
	if r.status != 409 || r.json(t)["error"].(map[string]any)["code"] != "version_conflict" {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	r = s.do("PATCH", "/agents/"+id, map[string]any{"personality": map[string]any{"temperature": 2.5}})
	if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "personality.temperature" {
		t.Fatalf("invalid patch: %d %s", r.status, r.body)
	}
	r = s.do("PATCH", "/agents/"+id, map[string]any{"provider": "openai"})
	if r.status != 200 || r.json(t)["model"] != "gpt-4o-mini" {
		t.Fatalf("provider switch: %d %s", r.status, r.body)
	}
	if r := s.do("PATCH", "/agents/"+id, map[string]any{}, "If-Match", "three"); r.status != 400 {
		t.Fatalf("bad If-Match: %d", r.status)
	}
	if r := s.do("DELETE", "/agents/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/agents/"+id, nil); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
	if r := s.do("DELETE", "/agents/"+id, nil); r.status != 404 {
		t.Fatalf("second delete: %d", r.status)
	}
	if r := s.do("PATCH", "/agents/not-a-uuid", map[string]any{"name": "x"}); r.status != 404 {
		t.Fatalf("patch unknown: %d", r.status)
	}
}

func TestIdempotencyKeyAppliesOnce(t *testing.T) {
	s := start(t)
	before := s.eventCount()
	body := map[string]any{"name": "Once", "provider": "offline"}
	first := s.do("POST", "/agents", body, "Idempotency-Key", "k-1")
	second := s.do("POST", "/agents", body, "Idempotency-Key", "k-1")
	if first.status != 201 || second.status != 201 || !bytes.Equal(first.body, second.body) {
		t.Fatalf("first %d %s / second %d %s", first.status, first.body, second.status, second.body)
	}
	if second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("the replay is not marked")
	}
	if n := s.eventCount() - before; n != 1 {
		t.Fatalf("appended %d events, want 1", n)
	}
	other := s.do("POST", "/agents", map[string]any{"name": "Different"}, "Idempotency-Key", "k-1")
	if other.status != 409 {
		t.Fatalf("key reuse with another body: %d %s", other.status, other.body)
	}
	// Concurrent duplicates still append once.
	var wg sync.WaitGroup
	bodies := make([][]byte, 8)
	for i := range bodies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := s.do("POST", "/agents", map[string]any{"name": "Racer"}, "Idempotency-Key", "k-race")
			if r.status != 201 {
				t.Errorf("racer %d: %d %s", i, r.status, r.body)
			}
			bodies[i] = r.body
		}(i)
	}
	wg.Wait()
	var created int
	_ = s.app.DB.SQL.QueryRow(`SELECT count(*) FROM eventlog.events WHERE payload->>'name' = 'Racer'`).Scan(&created)
	if created != 1 {
		t.Fatalf("concurrent duplicates created %d agents", created)
	}
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Fatalf("responses differ: %s vs %s", b, bodies[0])
		}
	}
}

func TestListPaginatesAndFilters(t *testing.T) {
	s := start(t)
	names := map[string]bool{}
	for i := 0; i < 7; i++ {
		a := s.createAgent(fmt.Sprintf("Pager %d", i))
		names[a["id"].(string)] = true
	}
	s.do("POST", "/agents", map[string]any{"name": "Other", "provider": "ollama"})
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		r := s.do("GET", "/agents?limit=3&provider=offline&cursor="+cursor, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		page := r.json(t)
		for _, it := range page["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] || !names[id] {
				t.Fatalf("unexpected or duplicate %s", id)
			}
			seen[id] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d agents, want 7", len(seen))
	}
	if r := s.do("GET", "/agents?limit=0", nil); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "limit" {
		t.Fatalf("bad limit: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/agents?cursor=garbage", nil); r.status != 400 {
		t.Fatalf("bad cursor: %d", r.status)
	}
}

func TestRequestIDAndErrorShape(t *testing.T) {
	s := start(t)
	r := s.do("GET", "/agents/00000000-0000-0000-0000-000000000000", nil, "X-Request-ID", "trace-123")
	if r.status != 404 || r.header.Get("X-Request-ID") != "trace-123" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	e := r.json(t)["error"].(map[string]any)
	if e["code"] != "not_found" || e["request_id"] != "trace-123" {
		t.Fatalf("error body %v", e)
	}
	if r := s.do("GET", "/nowhere", nil); r.status != 404 || r.header.Get("X-Request-ID") == "" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
}

func TestHealthAndDraining(t *testing.T) {
	s := start(t)
	if r := s.do("GET", "/health/live", nil); r.status != 200 {
		t.Fatalf("live: %d", r.status)
	}
	if r := s.do("GET", "/health/ready", nil); r.status != 200 {
		t.Fatalf("ready: %d", r.status)
	}
	if r := s.do("GET", "/admin/projections", nil); r.status != 200 || !strings.Contains(string(r.body), `"name":"agents"`) {
		t.Fatalf("projections: %d %s", r.status, r.body)
	}
	s.app.Server.Drain()
	if r := s.do("GET", "/health/ready", nil); r.status != 503 {
		t.Fatalf("ready while draining: %d", r.status)
	}
	if r := s.do("POST", "/agents", map[string]any{"name": "late"}); r.status != 503 {
		t.Fatalf("write while draining: %d", r.status)
	}
}

func dial(t *testing.T, s *server, path string) *websocket.Conn {
	t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+path,
		http.Header{"Authorization": {"Bearer " + s.token}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		var body []byte
		if res != nil {
			body, _ = io.ReadAll(res.Body)
		}
		t.Fatalf("dial %s: %v (%d) %s", path, err, status, body)
	}
	t.Cleanup(func() { conn.Close() })
	var hello map[string]any
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.ReadJSON(&hello); err != nil || hello["type"] != "connected" {
		t.Fatalf("hello: %v %v", hello, err)
	}
	return conn
}

type feedMessage struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	Position  int64           `json:"position"`
	Timestamp time.Time       `json:"timestamp"`
}

func read(t *testing.T, conn *websocket.Conn) feedMessage {
	t.Helper()
	var m feedMessage
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func TestAgentFeedStreamsAndResumesWithoutGap(t *testing.T) {
	s := start(t)
	a := s.createAgent("Streamer")
	id := a["id"].(string)
	conn := dial(t, s, "/ws/agents/"+id)

	s.do("PATCH", "/agents/"+id, map[string]any{"role": "one"})
	m := read(t, conn)
	if m.Type != "agent.updated" || m.Position == 0 || m.Timestamp.IsZero() || !strings.Contains(string(m.Data), `"role":"one"`) {
		t.Fatalf("message %+v %s", m, m.Data)
	}
	last := m.Position
	conn.Close()

	// While the client is away three more changes happen; another agent's do not concern it.
	for _, role := range []string{"two", "three", "four"} {
		s.do("PATCH", "/agents/"+id, map[string]any{"role": role})
		s.createAgent("Noise " + role)
	}
	resumed := dial(t, s, fmt.Sprintf("/ws/agents/%s?after=%d", id, last))
	for _, role := range []string{"two", "three", "four"} {
		m := read(t, resumed)
		if !strings.Contains(string(m.Data), `"role":"`+role+`"`) {
			t.Fatalf("resume: got %s, want role %s", m.Data, role)
		}
	}
	s.do("DELETE", "/agents/"+id, nil)
	if m := read(t, resumed); m.Type != "agent.deleted" {
		t.Fatalf("live after resume: %+v", m)
	}

	if r := s.do("GET", "/ws/agents/"+id, nil); r.status != 426 {
		t.Fatalf("plain GET on a feed: %d", r.status)
	}
	_, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/ws/agents/"+id+"?after=999999",
		http.Header{"Authorization": {"Bearer " + s.token}})
	if err == nil || res.StatusCode != 400 {
		t.Fatalf("unknown position: %v %v", err, res)
	}
}

func TestGeneralFeedTopics(t *testing.T) {
	s := start(t)
	conn := dial(t, s, "/ws")
	if err := conn.WriteJSON(map[string]any{"action": "subscribe", "topics": []string{"agents"}}); err != nil {
		t.Fatal(err)
	}
	var ack map[string]any
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.ReadJSON(&ack); err != nil || ack["type"] != "subscribed" {
		t.Fatalf("subscribe: %v %v", ack, err)
	}
	a := s.createAgent("Topical")
	m := read(t, conn)
	if m.Type != "agent.created" || !strings.Contains(string(m.Data), a["id"].(string)) {
		t.Fatalf("%+v", m)
	}
	if err := conn.WriteJSON(map[string]any{"action": "dance"}); err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	_ = conn.ReadJSON(&e)
	if e["type"] != "error" {
		t.Fatalf("unknown action: %v", e)
	}
}

func TestShutdownClosesFeedsAndRefusesWork(t *testing.T) {
	s := start(t)
	conn := dial(t, s, "/ws?topics=all")
	done := make(chan error, 1)
	go func() { done <- s.app.Shutdown(300*time.Millisecond, 5*time.Second) }()
	time.Sleep(100 * time.Millisecond)
	if r := s.do("GET", "/health/ready", nil); r.status != 503 {
		t.Fatalf("ready during drain: %d", r.status)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil { // events committed before the drain may still arrive first
		_, _, err = conn.ReadMessage()
	}
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("feed closed with %v, want going away", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEventsEndpointBrowsesTheLog(t *testing.T) {
	s := start(t)
	a := s.createAgent("Logged")
	id := a["id"].(string)
	s.do("PATCH", "/agents/"+id, map[string]any{"role": "x"})
	s.createAgent("Other")

	var page struct {
		Events []struct {
			Position int64           `json:"position"`
			StreamID string          `json:"stream_id"`
			Type     string          `json:"type"`
			Payload  json.RawMessage `json:"payload"`
			Metadata struct {
				CorrelationID string `json:"correlation_id"`
			} `json:"metadata"`
		} `json:"events"`
	}
	r := s.do("GET", "/events?after=0", nil)
	if !strings.Contains(string(r.body), "user.registered") || strings.Contains(string(r.body), "$2a$") {
		t.Fatalf("the log browser must show user events without their password hash: %s", r.body)
	}
	r = s.do("GET", "/events?after=0&stream_type=agent", nil)
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != 3 {
		t.Fatalf("after=0: %d %s", r.status, r.body)
	}
	if page.Events[0].Type != "agent.created" || page.Events[1].Type != "agent.updated" || page.Events[0].Metadata.CorrelationID == "" {
		t.Fatalf("order or metadata: %+v", page.Events)
	}
	r = s.do("GET", "/events?stream=agent-"+id, nil)
	_ = json.Unmarshal(r.body, &page)
	if len(page.Events) != 2 || page.Events[0].Type != "agent.updated" {
		t.Fatalf("newest first for one stream: %+v", page.Events)
	}
	r = s.do("GET", fmt.Sprintf("/events?type=agent.created&after=%d", page.Events[0].Position), nil)
	_ = json.Unmarshal(r.body, &page)
	if len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Payload), `"Other"`) {
		t.Fatalf("filtered after: %+v", page.Events)
	}
	if r := s.do("GET", "/events?after=424242", nil); r.status != 400 {
		t.Fatalf("unknown position: %d", r.status)
	}
	if r := s.do("GET", "/events?limit=5000", nil); r.status != 400 {
		t.Fatalf("limit: %d", r.status)
	}
	// Paging back: the events before the newest one, newest first.
	newest := s.do("GET", "/events?limit=1", nil)
	var top struct {
		Events []struct {
			Position int64 `json:"position"`
		} `json:"events"`
	}
	_ = json.Unmarshal(newest.body, &top)
	r = s.do("GET", fmt.Sprintf("/events?limit=2&before=%d", top.Events[0].Position), nil)
	var older struct {
		Events []struct {
			Position int64 `json:"position"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &older); err != nil || r.status != 200 || len(older.Events) != 2 ||
		older.Events[0].Position >= top.Events[0].Position || older.Events[1].Position >= older.Events[0].Position {
		t.Fatalf("before: %d %s (newest %d)", r.status, r.body, top.Events[0].Position)
	}
	if r := s.do("GET", "/events?before=424242", nil); r.status != 400 {
		t.Fatalf("before an unknown position: %d", r.status)
	}
	// The audit chain verifies, over everything and over one stream.
	r = s.do("GET", "/admin/audit/verify", nil)
	var report struct {
		OK      bool  `json:"ok"`
		Streams int64 `json:"streams"`
		Events  int64 `json:"events"`
		Breaks  []any `json:"breaks"`
	}
	if err := json.Unmarshal(r.body, &report); err != nil || r.status != 200 || !report.OK || report.Events < 2 || report.Breaks == nil {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/admin/audit/verify?stream="+page.Events[0].StreamID, nil); r.status != 200 || !strings.Contains(string(r.body), `"streams":1`) {
		t.Fatalf("verify one stream: %d %s", r.status, r.body)
	}
}

func newListener() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func sqlOpen() (*sql.DB, error) { return sql.Open("pgx", testdb.ServerURL()) }

func testRedisURL() string { return os.Getenv("TEST_REDIS_URL") }
