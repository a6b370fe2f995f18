package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

// withWorkspaces gives the server a workspaces directory and returns it.
func withWorkspaces(dir string) option {
	return func(o *app.Options) { o.WorkspacesDir = dir }
}

// TestWorkspaceFilesGitAndEscapes: a project's workspace through REST: write, read, tree,
// search, move, delete, raw download; git init, stage, diff, commit, log, branches, checkout;
// every change a workspace.* event on the project's feed; path escapes in every encoding
// refused on every file route with nothing changed outside; strangers refused.
func TestWorkspaceFilesGitAndEscapes(t *testing.T) {
	base := t.TempDir()
	wsDir := filepath.Join(base, "workspaces")
	outside := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(outside, []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, withWorkspaces(wsDir))
	s.token, _ = s.member("builder@example.com")
	r := s.do("POST", "/projects", map[string]any{"name": "site", "display_name": "Site"})
	if r.status != 201 {
		t.Fatalf("project: %d %s", r.status, r.body)
	}
	pid := r.json(t)["id"].(string)
	w := "/workspace/" + pid
	feed := dial(t, s, "/ws/workspace/"+pid)

	r = s.do("PUT", w+"/file?path=src/main.go", "package main\n\nfunc main() {}\n")
	if r.status != 200 {
		t.Fatalf("write: %d %s", r.status, r.body)
	}
	hash := r.json(t)["sha256"].(string)
	if r := s.do("PUT", w+"/file?path=src/main.go", "stale write", "If-Match", `"0000"`); r.status != 409 {
		t.Fatalf("a write with a stale If-Match: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", w+"/file?path=src/main.go", "package main\n\n// Entry point.\nfunc main() {}\n", "If-Match", `"`+hash+`"`); r.status != 200 {
		t.Fatalf("a write with the current If-Match: %d %s", r.status, r.body)
	}
	r = s.do("GET", w+"/file?path=src/main.go", nil)
	if f := r.json(t); r.status != 200 || !strings.Contains(f["content"].(string), "Entry point") || f["encoding"] != "utf-8" || f["sha256"] == nil {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	if r := s.do("GET", w+"/file?path=src/main.go&offset=8&length=4", nil); r.json(t)["content"] != "main" {
		t.Fatalf("range read: %s", r.body)
	}
	if r := s.do("GET", w+"/raw?path=src/main.go", nil); r.status != 200 || !strings.Contains(string(r.body), "Entry point") ||
		!strings.Contains(r.header.Get("Content-Disposition"), "main.go") {
		t.Fatalf("raw: %d %s", r.status, r.body)
	}
	if r := s.do("POST", w+"/dir", map[string]any{"path": "docs"}); r.status != 201 {
		t.Fatalf("mkdir: %d %s", r.status, r.body)
	}
	s.do("PUT", w+"/file?path=docs/notes.md", "TODO: ship it\n")
	if r := s.do("POST", w+"/move", map[string]any{"from": "docs/notes.md", "to": "docs/todo.md"}); r.status != 200 {
		t.Fatalf("move: %d %s", r.status, r.body)
	}
	r = s.do("GET", w+"/tree?depth=3", nil)
	var tree struct {
		Items []struct {
			Path string `json:"path"`
		} `json:"items"`
	}
	_ = json.Unmarshal(r.body, &tree)
	var paths []string
	for _, e := range tree.Items {
		paths = append(paths, e.Path)
	}
	if got := strings.Join(paths, ","); !strings.Contains(got, "src/main.go") || !strings.Contains(got, "docs/todo.md") || strings.Contains(got, "notes.md") {
		t.Fatalf("tree: %s", got)
	}
	if r := s.do("GET", w+"/search?q=ship", nil); r.status != 200 || !strings.Contains(string(r.body), `"docs/todo.md"`) {
		t.Fatalf("search: %d %s", r.status, r.body)
	}

	// Git on the real repository of the workspace.
	for _, step := range []struct {
		path string
		body any
	}{{"/git/init", nil}, {"/git/stage", map[string]any{"paths": []string{"src/main.go", "docs/todo.md"}}}} {
		if r := s.do("POST", w+step.path, step.body); r.status != 200 {
			t.Fatalf("%s: %d %s", step.path, r.status, r.body)
		}
	}
	if r := s.do("GET", w+"/git/diff?staged=true", nil); !strings.Contains(string(r.body), "+TODO: ship it") {
		t.Fatalf("staged diff: %s", r.body)
	}
	r = s.do("POST", w+"/git/commit", map[string]any{"message": "First version"})
	if r.status != 200 || r.json(t)["Hash"] == nil && r.json(t)["hash"] == nil {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	if r := s.do("GET", w+"/git/log", nil); !strings.Contains(string(r.body), "First version") || !strings.Contains(string(r.body), "builder@example.com") {
		t.Fatalf("log: %s", r.body)
	}
	if r := s.do("POST", w+"/git/checkout", map[string]any{"branch": "feature/x", "create": true}); r.status != 200 {
		t.Fatalf("checkout: %d %s", r.status, r.body)
	}
	if r := s.do("GET", w+"/git/branches", nil); !strings.Contains(string(r.body), "feature/x") {
		t.Fatalf("branches: %s", r.body)
	}
	for _, bad := range []string{"--upload-pack=evil", "-b", "a..b"} {
		if r := s.do("POST", w+"/git/checkout", map[string]any{"branch": bad, "create": true}); r.status != 400 && r.status != 403 {
			t.Fatalf("branch %q: %d %s", bad, r.status, r.body)
		}
	}
	if r := s.do("DELETE", w+"/file?path=docs&recursive=true", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := s.do("GET", w+"/git/status", nil); !strings.Contains(string(r.body), "docs/todo.md") {
		t.Fatalf("status after delete: %s", r.body)
	}

	// Every change reached the workspace's feed, in order.
	var kinds []string
	for len(kinds) < 10 {
		m := read(t, feed)
		if strings.HasPrefix(m.Type, "workspace.") {
			kinds = append(kinds, strings.TrimPrefix(m.Type, "workspace."))
		}
	}
	want := "file_written,file_written,dir_created,file_written,moved,git_initialized,git_staged,git_committed,git_checked_out,deleted"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("feed: %s\nwant %s", got, want)
	}

	// Escapes, in every encoding, through every file route: refused, nothing outside touched.
	before := s.eventCount()
	hostile := []string{"../secret.txt", "src/../../secret.txt", "/etc/passwd", "%2e%2e/secret.txt", "%252e%252e/secret.txt",
		"..%2fsecret.txt", `..\secret.txt`, `src\..\..\secret.txt`, "..%5csecret.txt", "src/%00x", ".git/config",
		"\u2025/secret.txt", "..%c0%afsecret.txt"}
	if err := os.Symlink(outside, filepath.Join(wsDir, pid, "link")); err != nil {
		t.Fatal(err)
	}
	hostile = append(hostile, "link")
	for _, p := range hostile {
		q := url.QueryEscape(p)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", w + "/file?path=" + q, nil},
			{"GET", w + "/raw?path=" + q, nil},
			{"PUT", w + "/file?path=" + q, "overwritten"},
			{"DELETE", w + "/file?path=" + q, nil},
			{"GET", w + "/tree?path=" + q, nil},
			{"GET", w + "/search?q=x&path=" + q, nil},
			{"POST", w + "/dir", map[string]any{"path": p}},
			{"POST", w + "/move", map[string]any{"from": p, "to": "moved.txt"}},
			{"POST", w + "/move", map[string]any{"from": "src/main.go", "to": p}},
			{"POST", w + "/git/stage", map[string]any{"paths": []string{p}}},
			{"GET", w + "/git/diff?path=" + q, nil},
		} {
			r := s.do(req.method, req.path, req.body)
			if r.status != 400 && r.status != 403 && r.status != 404 {
				t.Errorf("%s %s (%q): %d %s", req.method, req.path, p, r.status, r.body)
			}
			if strings.Contains(string(r.body), "do not touch") || strings.Contains(string(r.body), base) {
				t.Errorf("%s %s leaked: %s", req.method, req.path, r.body)
			}
		}
	}
	if got, _ := os.ReadFile(outside); string(got) != "do not touch" {
		t.Fatalf("the file outside was changed: %q", got)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 2 {
		t.Fatalf("something was created beside the workspaces: %v", entries)
	}
	if after := s.eventCount(); after != before {
		t.Fatalf("refused requests recorded %d changes", after-before)
	}

	// Another member cannot reach the workspace at all.
	s.token, _ = s.member("stranger@example.com")
	for _, p := range []string{"/tree", "/file?path=src/main.go", "/git/status"} {
		if r := s.do("GET", w+p, nil); r.status != 403 {
			t.Fatalf("a stranger read %s: %d", p, r.status)
		}
	}
	if r := s.do("PUT", w+"/file?path=x.txt", "mine now"); r.status != 403 {
		t.Fatalf("a stranger wrote: %d", r.status)
	}
}

// TestAgentSkillsWorkThroughChat: an agent granted fs_write writes a file in its own workspace
// when its model asks to, the call is recorded with the chat, and a skill it was not granted is
// refused with a reason the model reads.
func TestAgentSkillsWorkThroughChat(t *testing.T) {
	base := t.TempDir()
	fake := llmtest.NewOpenAI(t)
	fake.CallTool("call_1", "fs_write", `{"path":"notes/plan.md","content":"1. ship\n"}`).
		CallTool("call_2", "fs_read", `{"path":"../../etc/passwd"}`).
		Reply("Written.")
	s := start(t, withWorkspaces(filepath.Join(base, "ws")), func(o *app.Options) {
		o.LLM = llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL()}
	})
	r := s.do("POST", "/agents", map[string]any{"name": "Scribe", "provider": "openai", "model": "gpt-4o-mini", "tools": []string{"fs_write"}})
	if r.status != 201 {
		t.Fatalf("agent: %d %s", r.status, r.body)
	}
	agent := r.json(t)["id"].(string)
	got, r := s.chat(agent, map[string]any{"message": "Write the plan."})
	if r.status != 200 || got.Content != "Written." || len(got.ToolCalls) != 2 {
		t.Fatalf("chat: %d %s", r.status, r.body)
	}
	if got.ToolCalls[0].IsError || !strings.Contains(string(got.ToolCalls[0].Output), `"notes/plan.md"`) {
		t.Fatalf("fs_write: %+v", got.ToolCalls[0])
	}
	if !got.ToolCalls[1].IsError || !strings.Contains(got.ToolCalls[1].Error, "not permitted") {
		t.Fatalf("an ungranted skill: %+v", got.ToolCalls[1])
	}
	content, err := os.ReadFile(filepath.Join(base, "ws", "agents", agent, "notes", "plan.md"))
	if err != nil || string(content) != "1. ship\n" {
		t.Fatalf("the file in the agent's workspace: %q %v", content, err)
	}
	if r := s.do("GET", "/catalog", nil); !strings.Contains(string(r.body), `"name":"fs_write"`) || !strings.Contains(string(r.body), `"permissions":["write"]`) {
		t.Fatalf("catalog: %s", r.body)
	}
}

// dialTerminal opens the workspace terminal of a project with the server's current token.
func dialTerminal(t *testing.T, s *server, projectID string) (*websocket.Conn, int) {
	t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/ws/terminal/"+projectID,
		http.Header{"Authorization": {"Bearer " + s.token}})
	if err != nil {
		if res != nil {
			return nil, res.StatusCode
		}
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, 101
}

// readTerminal reads until the output holds want or an exit/error message arrives.
func readTerminal(t *testing.T, conn *websocket.Conn, want string) (output string, last map[string]any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var m map[string]any
		_ = conn.SetReadDeadline(deadline)
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v (output so far %q)", err, output)
		}
		switch m["type"] {
		case "output":
			output += m["data"].(string)
			if want != "" && strings.Contains(output, want) {
				return output, m
			}
		case "exit", "error":
			return output, m
		}
	}
	t.Fatalf("no %q in %q", want, output)
	return
}

// TestWorkspaceTerminal: the project's owner gets a shell in the workspace, as an unprivileged
// user with a clean environment; its opening and end are recorded; a stranger is refused; an
// idle terminal is closed.
func TestWorkspaceTerminal(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	os.Setenv("GATHERING_TEST_SECRET", "must not leak")
	defer os.Unsetenv("GATHERING_TEST_SECRET")
	s := start(t, withWorkspaces(filepath.Join(base, "ws")), func(o *app.Options) { o.TerminalIdle = 2 * time.Second })
	owner, _ := s.member("shell-owner@example.com")
	s.token = owner
	pid := s.do("POST", "/projects", map[string]any{"name": "shell"}).json(t)["id"].(string)

	conn, status := dialTerminal(t, s, pid)
	if status != 101 {
		t.Fatalf("owner: %d", status)
	}
	_ = conn.WriteJSON(map[string]any{"type": "resize", "cols": 100, "rows": 30})
	_ = conn.WriteJSON(map[string]any{"type": "input", "data": "echo hi-$((6*7)) uid=$(id -u) dir=$(pwd) secret=${GATHERING_TEST_SECRET:-none}\r"})
	out, _ := readTerminal(t, conn, "secret=none")
	if !strings.Contains(out, "hi-42") || strings.Contains(out, "uid=0 ") || !strings.Contains(out, "dir="+filepath.Join(base, "ws", pid)) {
		t.Fatalf("shell output: %q", out)
	}
	_ = conn.WriteJSON(map[string]any{"type": "input", "data": "cat /etc/shadow; exit 3\r"})
	out, last := readTerminal(t, conn, "")
	if last["type"] != "exit" || last["code"] != 3.0 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("exit: %v after %q", last, out)
	}
	_, events, err := s.app.Repo.LoadWorkspace(context.Background(), pid)
	if err != nil || len(events) != 2 || !strings.Contains(string(events[0].Payload), `"event":"opened"`) ||
		!strings.Contains(string(events[1].Payload), `"exit_code":3`) {
		t.Fatalf("recorded: %v %v", events, err)
	}

	// Idle: closed after the configured time without input.
	conn, _ = dialTerminal(t, s, pid)
	_, last = readTerminal(t, conn, "never printed")
	if last["type"] != "error" || !strings.Contains(last["message"].(string), "without input") {
		t.Fatalf("idle: %v", last)
	}

	s.token, _ = s.member("shell-stranger@example.com")
	if _, status := dialTerminal(t, s, pid); status != 403 {
		t.Fatalf("a stranger opened the terminal: %d", status)
	}
}

// TestLargeFilesUploadInChunksAndDownloadStreamed: a 10 MiB binary file, larger than a request
// body may be, reaches the workspace in chunks (a retried chunk is harmless, a wrong offset is
// refused) and comes back whole from the raw download; a bad destination is refused before any
// byte is sent; another user cannot touch the upload.
func TestLargeFilesUploadInChunksAndDownloadStreamed(t *testing.T) {
	s := start(t, withWorkspaces(t.TempDir()))
	s.token, _ = s.member("uploader@example.com")
	pid := s.do("POST", "/projects", map[string]any{"name": "assets"}).json(t)["id"].(string)
	w := "/workspace/" + pid
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i*7 + i/4096)
	}
	if r := s.do("POST", w+"/uploads", map[string]any{"path": "../outside.bin"}); r.status != 403 && r.status != 400 {
		t.Fatalf("a bad destination: %d %s", r.status, r.body)
	}
	r := s.do("POST", w+"/uploads", map[string]any{"path": "media/big.bin"})
	if r.status != 201 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	id := r.json(t)["upload_id"].(string)
	const chunk = 2 << 20
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if r := s.do("PUT", fmt.Sprintf("%s/uploads/%s?offset=%d", w, id, off), string(data[off:end])); r.status != 200 {
			t.Fatalf("chunk at %d: %d %s", off, r.status, r.body)
		}
		if off == chunk { // a retried chunk changes nothing
			if r := s.do("PUT", fmt.Sprintf("%s/uploads/%s?offset=%d", w, id, off), string(data[off:end])); r.status != 200 {
				t.Fatalf("retried chunk: %d %s", r.status, r.body)
			}
		}
	}
	for _, off := range []int{len(data) + 5, 5} { // past the end; different bytes over stored ones
		if r := s.do("PUT", fmt.Sprintf("%s/uploads/%s?offset=%d", w, id, off), "xyz"); r.status != 409 {
			t.Fatalf("a chunk at the wrong offset %d: %d %s", off, r.status, r.body)
		}
	}
	owner := s.token
	s.token, _ = s.member("other-uploader@example.com")
	if r := s.do("POST", w+"/uploads/"+id+"/complete", nil); r.status != 403 && r.status != 404 {
		t.Fatalf("another user completed the upload: %d", r.status)
	}
	s.token = owner
	r = s.do("POST", w+"/uploads/"+id+"/complete", nil)
	sum := sha256.Sum256(data)
	if r.status != 200 || r.json(t)["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	r = s.do("GET", w+"/raw?path=media/big.bin", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	if r := s.do("GET", w+"/file?path=media/big.bin&length=16", nil); r.json(t)["encoding"] != "base64" || r.json(t)["eof"] != false {
		t.Fatalf("a binary range: %s", r.body)
	}
	if r := s.do("POST", w+"/uploads/"+id+"/complete", nil); r.status != 404 {
		t.Fatalf("a finished upload completed again: %d", r.status)
	}
}
