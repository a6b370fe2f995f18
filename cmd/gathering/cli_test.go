package main

// End-to-end tests of the real `gathering` binary: TestMain builds it once, every test runs it
// as a subprocess with a clean environment, against real PostgreSQL servers (the local test
// server through DATABASE_URL, or the embedded one the binary starts itself).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
)

// binary is the path of the gathering binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gathering-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gathering")
	args := []string{"build"}
	if raceEnabled {
		args = append(args, "-race") // a data race in the binary then fails its exit status (66)
	}
	args = append(args, "-o", binary, ".")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gathering:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// ---------------------------------------------------------------------------------------------
// Running the binary.

// syncBuffer collects a subprocess's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cliEnv is a clean environment: only what the binary needs to find its tools, plus vars.
func cliEnv(vars ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=json", "API_HOST=127.0.0.1"}
	if u := os.Getenv("USER"); u != "" {
		env = append(env, "USER="+u) // names the embedded server's superuser when not root
	}
	return append(env, vars...)
}

// proc is a running gathering subprocess.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	state  *os.ProcessState
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: strings.Join(args, " "), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start gathering %s: %v", p.name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("gathering %s stderr:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal gathering %s: %v", p.name, err)
	}
}

// wait returns the exit status, failing the test if the process does not end within timeout.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("gathering %s did not exit within %s; stderr:\n%s", p.name, timeout, p.stderr.String())
	}
	return p.state.ExitCode()
}

// stop sends SIGTERM and requires a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.wait(2 * time.Minute); code != 0 {
		p.t.Fatalf("gathering %s exited with status %d after SIGTERM; stderr:\n%s", p.name, code, p.stderr.String())
	}
}

// runCLI runs a short command to completion.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := startProc(t, env, args...)
	code = p.wait(2 * time.Minute)
	return p.stdout.String(), p.stderr.String(), code
}

// mustRun runs a command that must succeed and returns its standard output.
func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, env, args...)
	if code != 0 {
		t.Fatalf("gathering %s: exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ---------------------------------------------------------------------------------------------
// Talking to a served instance.

// httpClient opens a connection per request, so nothing is reused across a shutdown.
var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

// request sends one API call; token, when set, goes in the Authorization header.
func request(method, url, token string, body any) (apiResponse, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return apiResponse{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return apiResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return apiResponse{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return apiResponse{status: res.StatusCode, header: res.Header, body: raw}, err
}

func mustRequest(t *testing.T, method, url, token string, body any) apiResponse {
	t.Helper()
	r, err := request(method, url, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// waitReady polls /health/ready until it answers 200.
func waitReady(t *testing.T, p *proc, base string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			t.Fatalf("gathering %s exited with status %d before it was ready; stderr:\n%s", p.name, p.state.ExitCode(), p.stderr.String())
		}
		if r, err := request("GET", base+"/health/ready", "", nil); err == nil && r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gathering %s not ready within %s; stderr:\n%s", p.name, timeout, p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The server requires a token on everything but health, login and the dashboard: every serve
// test configures a signing secret and bootstraps this administrator, then logs in as it.
const (
	testJWTSecret     = "cli-test-jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
	testAdminEmail    = "admin@cli-test.example"
	testAdminPassword = "cli-test admin password"
)

// authEnv is the configuration every serve test adds.
func authEnv() []string {
	return []string{"JWT_SECRET=" + testJWTSecret, "ADMIN_EMAIL=" + testAdminEmail, "ADMIN_PASSWORD=" + testAdminPassword}
}

// login logs in as the bootstrapped administrator and returns the access token.
func login(t *testing.T, base string) string {
	t.Helper()
	r := mustRequest(t, "POST", base+"/auth/login", "", map[string]any{"email": testAdminEmail, "password": testAdminPassword})
	if r.status != http.StatusOK {
		t.Fatalf("POST /auth/login as the administrator: %d %s", r.status, r.body)
	}
	body := r.json(t)
	token, _ := body["access_token"].(string)
	if token == "" || body["token_type"] != "Bearer" {
		t.Fatalf("POST /auth/login: no bearer access token in %s", r.body)
	}
	if user, _ := body["user"].(map[string]any); user["role"] != "admin" {
		t.Fatalf("POST /auth/login: the bootstrapped user is not an admin: %s", r.body)
	}
	return token
}

// createAgent POSTs an agent and returns its id and the request id the server gave the request.
func createAgent(t *testing.T, base, token, name string) (id, requestID string) {
	t.Helper()
	r := mustRequest(t, "POST", base+"/agents", token, map[string]any{"name": name, "provider": "offline"})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /agents %s: %d %s", name, r.status, r.body)
	}
	id, _ = r.json(t)["id"].(string)
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("POST /agents: id %q in %s", id, r.body)
	}
	return id, r.header.Get("X-Request-ID")
}

// logLines parses a JSON log; every line must be a JSON object.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %s", l)
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

// indexOfMessage is the index of the first log line with message msg, or -1.
func indexOfMessage(lines []map[string]any, msg string) int {
	for i, l := range lines {
		if l["message"] == msg {
			return i
		}
	}
	return -1
}

// ---------------------------------------------------------------------------------------------
// 1. serve with DATABASE_URL, read-your-writes, live feed and a graceful SIGTERM.

func TestServeWithDatabaseURLShutsDownGracefully(t *testing.T) {
	db := testdb.New(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := startProc(t, cliEnv(append(authEnv(), "DATABASE_URL="+db.DSN, "API_PORT="+strconv.Itoa(port), "DRAIN_DELAY=500ms")...), "serve")
	waitReady(t, p, base, time.Minute)
	token := login(t, base)
	if r := mustRequest(t, "GET", base+"/agents", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("GET /agents without a token: %d %s, want 401", r.status, r.body)
	}

	// Read-your-writes: the GET follows the 201 with no pause.
	id, requestID := createAgent(t, base, token, "Ada")
	if requestID == "" {
		t.Fatal("POST /agents: no X-Request-ID header")
	}
	got := mustRequest(t, "GET", base+"/agents/"+id, token, nil)
	if got.status != http.StatusOK || got.json(t)["name"] != "Ada" {
		t.Fatalf("GET /agents/%s right after creating it: %d %s", id, got.status, got.body)
	}

	ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://127.0.0.1:%d/ws?topics=all", port),
		http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var hello struct {
		Type string `json:"type"`
	}
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "connected" {
		t.Fatalf("first feed message: %+v, %v", hello, err)
	}
	wsEnd := make(chan error, 1)
	go func() {
		for {
			_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
			if _, _, err := ws.ReadMessage(); err != nil {
				wsEnd <- err
				return
			}
		}
	}()

	p.signal(syscall.SIGTERM)

	// During the drain delay the process still answers, but readiness is off and new work is
	// refused, so that a load balancer moves traffic elsewhere before the listener closes.
	saw503 := false
	for !saw503 && !p.exited() {
		r, err := request("GET", base+"/health/ready", "", nil)
		if err != nil {
			break // the listener is closed: the drain is over
		}
		switch r.status {
		case http.StatusOK:
			time.Sleep(10 * time.Millisecond) // the signal has not been handled yet
		case http.StatusServiceUnavailable:
			saw503 = true
			if reason := r.json(t)["reason"]; reason != "shutting_down" {
				t.Errorf("/health/ready while draining: reason %v, want shutting_down", reason)
			}
		default:
			t.Fatalf("/health/ready during shutdown: %d %s", r.status, r.body)
		}
	}
	if !saw503 {
		t.Error("/health/ready never answered 503 during the drain delay")
	}
	// New work is refused rather than accepted and lost (if the server still answers at all).
	if r, err := request("POST", base+"/agents", token, map[string]any{"name": "Late", "provider": "offline"}); err == nil && r.status != http.StatusServiceUnavailable {
		t.Errorf("POST /agents while shutting down: %d %s, want 503", r.status, r.body)
	}

	select {
	case err := <-wsEnd:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Errorf("live feed ended with %v, want a close frame with code %d (going away)", err, websocket.CloseGoingAway)
		}
	case <-time.After(time.Minute):
		t.Error("the live feed was not closed during shutdown")
	}

	if code := p.wait(2 * time.Minute); code != 0 {
		t.Fatalf("serve exited with status %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
	}

	lines := logLines(t, p.stderr.String())
	postLogged := false
	for _, l := range lines {
		if l["message"] == "request" && l["request_id"] == requestID {
			postLogged = true
			if l["method"] != "POST" || l["path"] != "/agents" || l["status"] != float64(http.StatusCreated) {
				t.Errorf("request log line %v: want POST /agents 201", l)
			}
		}
	}
	if !postLogged {
		t.Errorf("no request log line with the POST's request_id %s", requestID)
	}
	shutting, stopped := indexOfMessage(lines, "shutting down"), indexOfMessage(lines, "stopped")
	if shutting < 0 || stopped < 0 || stopped < shutting {
		t.Errorf(`log lines "shutting down" (line %d) and then "stopped" (line %d) missing or out of order`, shutting, stopped)
	}

	// Nothing acknowledged was lost: the agent's event is in the log, correlated with the request
	// (and the late POST left nothing). The log also holds the user.* and auth.* events of the
	// bootstrap and the login, so only agent streams are compared.
	rows, err := db.SQL.Query(`SELECT stream_id, stream_version, event_type, correlation_id FROM eventlog.events
		WHERE stream_type = 'agent' ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var events []string
	for rows.Next() {
		var stream, typ, corr string
		var version int64
		if err := rows.Scan(&stream, &version, &typ, &corr); err != nil {
			t.Fatal(err)
		}
		events = append(events, fmt.Sprintf("%s/%d %s %s", stream, version, typ, corr))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("agent-%s/1 agent.created %s", id, requestID)
	if len(events) != 1 || events[0] != want {
		t.Fatalf("agent events after shutdown: %q, want [%q]", events, want)
	}
}

// ---------------------------------------------------------------------------------------------
// 2. serve without DATABASE_URL: the embedded PostgreSQL, stopped on exit, data kept.

func TestServeWithEmbeddedPostgres(t *testing.T) {
	// As root the embedded server runs as the postgres user, which must be able to enter the
	// data directory: t.TempDir() is 0700 (and under root's temp dir), so use /tmp directly.
	// The data directory itself does not exist yet, as on a fresh checkout: serve creates it.
	parent, err := os.MkdirTemp("/tmp", "gathering-cli-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	dataDir := filepath.Join(parent, ".gathering")
	pgPort := freePort(t)
	env := func(apiPort int) []string {
		return cliEnv(append(authEnv(), "GATHERING_DATA_DIR="+dataDir, "EMBEDDED_PG_PORT="+strconv.Itoa(pgPort),
			"API_PORT="+strconv.Itoa(apiPort))...)
	}

	apiPort := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	p := startProc(t, env(apiPort), "serve")
	waitReady(t, p, base, 2*time.Minute) // the first start runs initdb
	id, _ := createAgent(t, base, login(t, base), "Embedded")
	p.stop()
	if lines := logLines(t, p.stderr.String()); indexOfMessage(lines, "administrator account created") < 0 {
		t.Error(`the first start logged no "administrator account created"`)
	}

	pidFile := filepath.Join(dataDir, "pg", "data", "postmaster.pid")
	checkEmbeddedStopped := func() {
		t.Helper()
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pgPort), 2*time.Second); err == nil {
			c.Close()
			t.Fatalf("the embedded PostgreSQL still accepts connections on port %d after serve exited", pgPort)
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && syscall.Kill(pid, 0) == nil {
				t.Fatalf("the embedded PostgreSQL (pid %d) is still running after serve exited", pid)
			}
		}
	}
	checkEmbeddedStopped()
	if lines := logLines(t, p.stderr.String()); indexOfMessage(lines, "PostgreSQL stopped") < 0 {
		t.Error(`no "PostgreSQL stopped" log line`)
	}

	// A second start reuses the cluster: no initdb, the administrator from the first start can
	// still log in (and is not created again), and the agent is still there.
	apiPort = freePort(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	p = startProc(t, env(apiPort), "serve")
	waitReady(t, p, base, 2*time.Minute)
	if r := mustRequest(t, "GET", base+"/agents/"+id, login(t, base), nil); r.status != http.StatusOK || r.json(t)["name"] != "Embedded" {
		t.Fatalf("GET /agents/%s after a restart: %d %s", id, r.status, r.body)
	}
	// Operator tools reuse the embedded server the running serve started.
	if out := mustRun(t, env(freePort(t)), "migrate", "status"); !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Errorf("migrate status against the running embedded server:\n%s", out)
	}
	p.stop()
	lines := logLines(t, p.stderr.String())
	if indexOfMessage(lines, "initializing new PostgreSQL cluster") >= 0 {
		t.Error("the second start ran initdb again")
	}
	if indexOfMessage(lines, "administrator account created") >= 0 {
		t.Error("the second start created the administrator again")
	}
	checkEmbeddedStopped()

	// With no serve running, a tool starts the embedded server for itself and stops it after.
	events := ndjsonEvents(t, mustRun(t, env(freePort(t)), "events", "--stream-type", "agent", "--format", "ndjson"))
	if len(events) != 1 || events[0]["stream_id"] != domain.AgentStreamID(id) || events[0]["type"] != "agent.created" {
		t.Errorf("agent events from the embedded server started by the tool: %v", events)
	}
	checkEmbeddedStopped()
	// Two starts with the same ADMIN_EMAIL registered one administrator.
	registered := ndjsonEvents(t, mustRun(t, env(freePort(t)), "events", "--type", "user.registered", "--format", "ndjson"))
	if len(registered) != 1 {
		t.Errorf("user.registered events after two starts: %d, want 1: %v", len(registered), registered)
	}
	checkEmbeddedStopped()
}

// ---------------------------------------------------------------------------------------------
// 2b. serve refuses an unsafe authentication configuration before it starts anything.

func TestServeRefusesUnsafeAuthConfiguration(t *testing.T) {
	// Were the configuration accepted, serve would fail on this database instead, or start the
	// embedded server in this temporary directory: neither mentions the variable at fault.
	base := []string{"DATABASE_URL=postgres://gathering@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
		"GATHERING_DATA_DIR=" + t.TempDir(), "API_PORT=" + strconv.Itoa(freePort(t))}
	for _, c := range []struct {
		name    string
		vars    []string
		mention string
	}{
		{"production with the published default secret",
			[]string{"GATHERING_ENV=production", "JWT_SECRET=dev-secret-key-change-me"}, "JWT_SECRET"},
		{"production with a published default of 32 bytes or more",
			[]string{"GATHERING_ENV=production", "JWT_SECRET=please-change-this-secret-in-production!!"}, "JWT_SECRET"},
		{"production with a short secret",
			[]string{"GATHERING_ENV=production", "JWT_SECRET=0123456789abcdef0123456789abcde"}, "JWT_SECRET"},
		{"production without a secret", []string{"GATHERING_ENV=production"}, "JWT_SECRET"},
		{"development with a short secret", []string{"JWT_SECRET=short"}, "JWT_SECRET"},
		{"an admin email without a password",
			[]string{"JWT_SECRET=" + testJWTSecret, "ADMIN_EMAIL=" + testAdminEmail}, "ADMIN_PASSWORD"},
		{"an admin email without a password, in production",
			[]string{"GATHERING_ENV=production", "JWT_SECRET=" + testJWTSecret, "ADMIN_EMAIL=" + testAdminEmail}, "ADMIN_PASSWORD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			p := startProc(t, cliEnv(append(append([]string{}, base...), c.vars...)...), "serve")
			code := p.wait(30 * time.Second)
			if code == 0 {
				t.Fatalf("serve exited with status 0; stderr:\n%s", p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), c.mention) {
				t.Errorf("serve exited with status %d and a message that does not name %s:\n%s", code, c.mention, p.stderr.String())
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("serve took %s to refuse its configuration", elapsed)
			}
		})
	}

	// The same production settings with a strong secret and a password do start.
	db := testdb.New(t)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := startProc(t, cliEnv(append(authEnv(), "GATHERING_ENV=production", "DATABASE_URL="+db.DSN, "API_PORT="+strconv.Itoa(port))...), "serve")
	waitReady(t, p, url, time.Minute)
	if r := mustRequest(t, "GET", url+"/agents", login(t, url), nil); r.status != http.StatusOK {
		t.Errorf("GET /agents in production with a token: %d %s", r.status, r.body)
	}
	p.stop()
}

// ---------------------------------------------------------------------------------------------
// 3. The operator tools: events, audit verify, replay, migrate status.

// ndjsonEvents parses `events --format ndjson` output.
func ndjsonEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var events []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("events output line is not a JSON object: %s", l)
		}
		for _, k := range []string{"position", "stream_id", "type", "payload"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("event line without %q: %s", k, l)
			}
		}
		events = append(events, m)
	}
	return events
}

var replayLine = regexp.MustCompile(`(?m)^agents: replayed (\d+) events up to position (\d+); (\d+) rows; checksum (\S+)$`)

// agentsReplay returns the rows and checksum `replay` printed for the agents projection.
func agentsReplay(t *testing.T, out string) (rows, checksum string) {
	t.Helper()
	m := replayLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no agents line in replay output:\n%s", out)
	}
	return m[3], m[4]
}

func TestOperatorTools(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	env := cliEnv("DATABASE_URL=" + db.DSN)

	// Some history, written through the API of a real serve.
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := startProc(t, cliEnv(append(authEnv(), "DATABASE_URL="+db.DSN, "API_PORT="+strconv.Itoa(port))...), "serve")
	waitReady(t, p, base, time.Minute)
	token := login(t, base)
	var ids []string
	for _, name := range []string{"One", "Two", "Three"} {
		id, _ := createAgent(t, base, token, name)
		ids = append(ids, id)
	}
	if r := mustRequest(t, "PATCH", base+"/agents/"+ids[0], token, map[string]any{"role": "reviewer"}); r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	p.stop()
	stream := func(i int) string { return domain.AgentStreamID(ids[i]) }

	t.Run("events", func(t *testing.T) {
		// The whole log: the administrator's registration at start, its login, then the agents.
		everything := ndjsonEvents(t, mustRun(t, env, "events", "--format", "ndjson"))
		var types []string
		for _, e := range everything {
			types = append(types, e["type"].(string))
		}
		wantTypes := []string{"user.registered", "auth.login_succeeded", "agent.created", "agent.created", "agent.created", "agent.updated"}
		if strings.Join(types, " ") != strings.Join(wantTypes, " ") {
			t.Errorf("events: types %q, want %q", types, wantTypes)
		}

		all := ndjsonEvents(t, mustRun(t, env, "events", "--stream-type", "agent", "--format", "ndjson"))
		if len(all) != 4 {
			t.Fatalf("events --stream-type agent: %d lines, want 4 (3 created, 1 updated): %v", len(all), all)
		}
		for i, e := range all {
			if i > 0 && e["position"].(float64) <= all[i-1]["position"].(float64) {
				t.Errorf("events not in ascending position order: %v", all)
			}
			if e["stream_id"] != stream(min(i, 2)) && !(i == 3 && e["stream_id"] == stream(0)) {
				t.Errorf("event %d: stream %v", i, e["stream_id"])
			}
		}

		updated := ndjsonEvents(t, mustRun(t, env, "events", "--type", "agent.updated", "--format", "ndjson"))
		if len(updated) != 1 || updated[0]["type"] != "agent.updated" || updated[0]["stream_id"] != stream(0) {
			t.Errorf("--type agent.updated: %v", updated)
		}
		one := ndjsonEvents(t, mustRun(t, env, "events", "--stream", stream(0), "--format", "ndjson"))
		if len(one) != 2 || one[0]["type"] != "agent.created" || one[1]["type"] != "agent.updated" {
			t.Errorf("--stream %s: %v", stream(0), one)
		}
		for _, e := range one {
			if e["stream_id"] != stream(0) {
				t.Errorf("--stream %s printed %v", stream(0), e)
			}
		}
		after := ndjsonEvents(t, mustRun(t, env, "events", "--after", "0", "--limit", "2", "--format", "ndjson"))
		if len(after) != 2 || len(everything) < 2 || after[0]["position"] != everything[0]["position"] || after[1]["position"] != everything[1]["position"] {
			t.Errorf("--after 0 --limit 2: %v", after)
		}
		agentsAfter := ndjsonEvents(t, mustRun(t, env, "events", "--stream-type", "agent", "--after", "0", "--limit", "2", "--format", "ndjson"))
		if len(agentsAfter) != 2 || agentsAfter[0]["position"] != all[0]["position"] || agentsAfter[1]["position"] != all[1]["position"] {
			t.Errorf("--stream-type agent --after 0 --limit 2: %v", agentsAfter)
		}

		table := strings.Split(strings.TrimSpace(mustRun(t, env, "events", "--stream-type", "agent")), "\n")
		if len(table) != 5 || !strings.HasPrefix(table[0], "POSITION") || !strings.Contains(table[0], "STREAM") {
			t.Errorf("table format: want a header and 4 rows, got:\n%s", strings.Join(table, "\n"))
		}

		// The password hash never leaves the log through the tool.
		out := mustRun(t, env, "events", "--type", "user.registered", "--format", "ndjson")
		registered := ndjsonEvents(t, out)
		if len(registered) != 1 || registered[0]["type"] != "user.registered" {
			t.Fatalf("--type user.registered: %v", registered)
		}
		if !strings.Contains(out, `"password_hash":"[redacted]"`) || strings.Contains(out, "$2a$") || strings.Contains(out, "$2b$") {
			t.Errorf("user.registered is printed with its password hash:\n%s", out)
		}
		if payload, _ := registered[0]["payload"].(map[string]any); payload["email"] != testAdminEmail {
			t.Errorf("user.registered payload: %v, want the administrator's email %s", registered[0]["payload"], testAdminEmail)
		}
		if table := mustRun(t, env, "events", "--type", "user.registered"); strings.Contains(table, "$2a$") || strings.Contains(table, "$2b$") {
			t.Errorf("the table format prints the password hash:\n%s", table)
		}

		if _, errOut, code := runCLI(t, env, "events", "--format", "yaml"); code == 0 {
			t.Errorf("--format yaml succeeded: %s", errOut)
		}
		if _, _, code := runCLI(t, env, "events", "--no-such-flag"); code != 2 {
			t.Errorf("events with an unknown flag: exit status %d, want 2", code)
		}
	})

	t.Run("events --follow", func(t *testing.T) {
		f := startProc(t, env, "events", "--follow", "--format", "ndjson")
		store := eventlog.NewStore(db.SQL, domain.Events)
		appended := map[string]bool{}
		var line map[string]any
		// The follower starts at the head it sees when it connects, which the test cannot
		// observe: append until one of the appended events is printed.
		for i := 0; line == nil; i++ {
			if i == 60 {
				t.Fatalf("events --follow printed nothing while 60 events were appended; stderr:\n%s", f.stderr.String())
			}
			if f.exited() {
				t.Fatalf("events --follow exited with status %d; stderr:\n%s", f.state.ExitCode(), f.stderr.String())
			}
			sid := "clitest-" + uuid.NewString()
			appended[sid] = true
			tx, err := db.SQL.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = store.Append(ctx, tx, sid, "clitest", eventlog.Head{},
				[]eventlog.NewEvent{{Type: "clitest.appended", SchemaVersion: 1, Payload: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)}},
				eventlog.Metadata{Actor: "cli-test"})
			if err != nil {
				_ = tx.Rollback()
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2 * time.Second); line == nil && time.Now().Before(deadline); {
				if out := strings.TrimSpace(f.stdout.String()); out != "" {
					line = ndjsonEvents(t, strings.SplitN(out, "\n", 2)[0])[0]
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if sid, _ := line["stream_id"].(string); !appended[sid] || line["type"] != "clitest.appended" {
			t.Errorf("events --follow printed %v, which the test did not append while it ran", line)
		}
		f.stop()
		for _, e := range ndjsonEvents(t, f.stdout.String()) {
			if sid, _ := e["stream_id"].(string); !appended[sid] {
				t.Errorf("events --follow printed an event from before it started: %v", e)
			}
		}
	})

	t.Run("replay", func(t *testing.T) {
		rows1, sum1 := agentsReplay(t, mustRun(t, env, "replay", "agents"))
		rows2, sum2 := agentsReplay(t, mustRun(t, env, "replay", "agents"))
		outAll := mustRun(t, env, "replay", "all")
		rowsAll, sumAll := agentsReplay(t, outAll)
		var replayed []string
		for _, l := range strings.Split(strings.TrimSpace(outAll), "\n") {
			name, _, _ := strings.Cut(l, ":")
			replayed = append(replayed, name)
		}
		var want []string
		for _, p := range app.Projections() {
			want = append(want, p.Name())
		}
		if strings.Join(replayed, " ") != strings.Join(want, " ") || len(want) < 11 {
			t.Errorf("replay all: projections %q, want one line each for %q:\n%s", replayed, want, outAll)
		}
		if rows1 != "3" || sum1 == "" || sum1 != sum2 || sum1 != sumAll || rows2 != rows1 || rowsAll != rows1 {
			t.Errorf("replay agents twice and all: rows %s/%s/%s, checksums %s/%s/%s; want 3 rows and one checksum",
				rows1, rows2, rowsAll, sum1, sum2, sumAll)
		}
		status := mustRun(t, env, "replay", "status")
		if !regexp.MustCompile(`(?m)^PROJECTION\s+POSITION`).MatchString(status) {
			t.Errorf("replay status has no header:\n%s", status)
		}
		for _, name := range want {
			if !regexp.MustCompile(`(?m)^` + name + `\s+[1-9]\d*\s`).MatchString(status) {
				t.Errorf("replay status has no %s line with a position:\n%s", name, status)
			}
		}
		if _, _, code := runCLI(t, env, "replay", "nosuch"); code != 1 {
			t.Errorf("replay of an unknown projection: exit status %d, want 1", code)
		}
	})

	t.Run("migrate status", func(t *testing.T) {
		out := mustRun(t, env, "migrate", "status")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 3 {
			t.Fatalf("migrate status:\n%s", out)
		}
		for _, l := range lines {
			if !regexp.MustCompile(`^\d{5}\s+applied\s+\S`).MatchString(l) {
				t.Errorf("migrate status line %q: want an applied migration", l)
			}
		}
	})

	t.Run("audit verify", func(t *testing.T) {
		out := mustRun(t, env, "audit", "verify")
		if !strings.HasPrefix(out, "OK:") {
			t.Fatalf("audit verify on an intact log:\n%s", out)
		}

		// A superuser bypasses the append-only trigger; the hash chain notices.
		var position int64
		if err := db.SQL.QueryRow(`SELECT "offset" FROM eventlog.events WHERE stream_id = $1 AND stream_version = 1`, stream(1)).Scan(&position); err != nil {
			t.Fatal(err)
		}
		tamper(t, db.SQL, position)

		out, errOut, code := runCLI(t, env, "audit", "verify")
		if code != 1 {
			t.Fatalf("audit verify on a tampered log: exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		want := fmt.Sprintf("stream %s: first broken link at version 1 (position %d)", stream(1), position)
		if !strings.HasPrefix(out, "BROKEN:") || !strings.Contains(out, want) {
			t.Errorf("audit verify on a tampered log printed:\n%s\nwant a line with %q", out, want)
		}
		for _, i := range []int{0, 2} {
			if strings.Contains(out, stream(i)) {
				t.Errorf("audit verify blames the intact stream %s:\n%s", stream(i), out)
			}
		}

		out, _, code = runCLI(t, env, "audit", "verify", "--format", "json")
		var report eventlog.AuditReport
		if err := json.Unmarshal([]byte(out), &report); err != nil {
			t.Fatalf("audit verify --format json: %v\n%s", err, out)
		}
		if code != 1 || len(report.Breaks) != 1 || report.Breaks[0].StreamID != stream(1) ||
			report.Breaks[0].Version != 1 || report.Breaks[0].Position != position {
			t.Errorf("audit verify --format json: exit %d, %+v", code, report)
		}

		if out := mustRun(t, env, "audit", "verify", "--stream", stream(0)); !strings.HasPrefix(out, "OK: 2 events in 1 streams") {
			t.Errorf("audit verify --stream %s (intact):\n%s", stream(0), out)
		}
		if _, _, code := runCLI(t, env, "audit", "verify", "--stream", stream(1)); code != 1 {
			t.Errorf("audit verify --stream %s (tampered): exit status %d, want 1", stream(1), code)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		_, errOut, code := runCLI(t, env, "frobnicate")
		if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
			t.Errorf("unknown subcommand: exit status %d, stderr %q; want 2", code, errOut)
		}
		if _, _, code := runCLI(t, env); code != 2 {
			t.Errorf("no subcommand: exit status %d, want 2", code)
		}
		if out := mustRun(t, env, "version"); strings.TrimSpace(out) == "" {
			t.Error("version printed nothing")
		}
	})
}

// tamper rewrites one event's payload behind the append-only trigger's back, on one connection
// so that the session setting applies to the update.
func tamper(t *testing.T, db *sql.DB, position int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, `RESET session_replication_role`) }()
	res, err := conn.ExecContext(ctx, `UPDATE eventlog.events SET payload = '{"x":1}' WHERE "offset" = $1`, position)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tampering updated %d rows", n)
	}
}

// A signal is the only way `events --follow` ends, so it must end cleanly even while it is
// still catching up on a long backlog (it used to fail with "context canceled", status 1).
func TestEventsFollowEndsCleanlyOnSignalWhileCatchingUp(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	for s := 0; s < 5; s++ {
		evs := make([]eventlog.NewEvent, 2000)
		for i := range evs {
			evs[i] = eventlog.NewEvent{Type: "clitest.bulk", SchemaVersion: 1, Payload: json.RawMessage(`{"n":1}`)}
		}
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, tx, fmt.Sprintf("bulk-%d", s), "clitest", eventlog.Head{}, evs, eventlog.Metadata{}); err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	env := cliEnv("DATABASE_URL=" + db.DSN)
	for run := 0; run < 3; run++ {
		f := startProc(t, env, "events", "--follow", "--after", "0", "--format", "ndjson")
		for !strings.Contains(f.stdout.String(), "\n") {
			if f.exited() {
				t.Fatalf("events --follow exited with status %d; stderr:\n%s", f.state.ExitCode(), f.stderr.String())
			}
			time.Sleep(time.Millisecond)
		}
		f.signal(syscall.SIGTERM)
		if code := f.wait(2 * time.Minute); code != 0 {
			t.Fatalf("events --follow stopped by SIGTERM during catch-up: exit status %d; stderr:\n%s", code, f.stderr.String())
		}
	}
}
