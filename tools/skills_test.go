package tools_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/sandbox"
	"github.com/gathering/gathering/tools"
)

// skillsHarness is a registry with the skills, an agent calling them, and a folder outside
// the workspaces that nothing may touch.
type skillsHarness struct {
	t       *testing.T
	reg     *tools.Registry
	ctx     context.Context
	root    string // the agent's workspace
	outside string
	allowed []string
}

func newSkills(t *testing.T) *skillsHarness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the skills tests run code in the sandbox, which needs root; run them as root")
	}
	base := t.TempDir()
	// The sandboxed run must traverse down to its workspace, as on a server.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(base, "outside.txt")
	if err := os.WriteFile(outside, []byte("untouched"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := tools.NewRegistry()
	box := sandbox.New(sandbox.Config{FirstUID: 2_000_100_001, UIDs: 4})
	if err := tools.RegisterSkills(reg, tools.SkillOptions{WorkspacesDir: filepath.Join(base, "ws"), Sandbox: box}); err != nil {
		t.Fatal(err)
	}
	agent := uuid.NewString()
	return &skillsHarness{t: t, reg: reg, ctx: tools.WithCaller(context.Background(), tools.Caller{AgentID: agent}),
		root: filepath.Join(base, "ws", "agents", agent), outside: outside, allowed: reg.Names()}
}

func (h *skillsHarness) call(name string, args any) tools.Result {
	h.t.Helper()
	raw, _ := json.Marshal(args)
	return h.reg.Call(h.ctx, llm.ToolCall{ID: "c1", Name: name, Arguments: raw}, h.allowed)
}

func (h *skillsHarness) ok(name string, args any) map[string]any {
	h.t.Helper()
	res := h.call(name, args)
	if res.IsError {
		h.t.Fatalf("%s %v: %s", name, args, res.Error)
	}
	var out map[string]any
	_ = json.Unmarshal(res.Output, &out)
	return out
}

func (h *skillsHarness) refused(name string, args any, want string) {
	h.t.Helper()
	res := h.call(name, args)
	if !res.IsError || !strings.Contains(strings.ToLower(res.Error), strings.ToLower(want)) {
		h.t.Fatalf("%s %v: %+v, want an error mentioning %q", name, args, res, want)
	}
}

func TestFileAndGitSkillsStayInTheAgentsWorkspace(t *testing.T) {
	h := newSkills(t)
	h.ok("fs_write", map[string]any{"path": "src/hello.py", "content": "print(6*7)\n"})
	if got := h.ok("fs_read", map[string]any{"path": "src/hello.py"}); got["content"] != "print(6*7)\n" {
		t.Fatalf("read %v", got)
	}
	if got := h.ok("fs_list", map[string]any{}); !strings.Contains(mustJSON(got), "src/hello.py") {
		t.Fatalf("list %v", got)
	}
	if got := h.ok("fs_search", map[string]any{"query": "6*7"}); !strings.Contains(mustJSON(got), `"src/hello.py"`) {
		t.Fatalf("search %v", got)
	}
	if got := h.ok("git_commit", map[string]any{"message": "hello"}); got["commit"] == "" || got["subject"] != "hello" {
		t.Fatalf("commit %v", got)
	}
	h.ok("fs_write", map[string]any{"path": "src/hello.py", "content": "print(7*6)\n"})
	if got := mustJSON(h.ok("git_status", map[string]any{"with_diff": true})); !strings.Contains(got, "src/hello.py") ||
		!strings.Contains(got, "+print(7*6)") || !strings.Contains(got, "hello") {
		t.Fatalf("git_status %s", got)
	}
	// Escapes in every encoding, through every file skill: refused, nothing outside changed.
	for _, p := range []string{"../../outside.txt", "%2e%2e/%2e%2e/outside.txt", "%252e%252e/x", "..%2f..%2foutside.txt", `..\..\outside.txt`,
		"/etc/passwd", ".git/config", "src/../../../outside.txt"} {
		for _, c := range []struct {
			name string
			args map[string]any
		}{{"fs_read", map[string]any{"path": p}}, {"fs_write", map[string]any{"path": p, "content": "pwned"}}, {"fs_list", map[string]any{"path": p}}} {
			if res := h.call(c.name, c.args); !res.IsError {
				t.Fatalf("%s %q was allowed: %s", c.name, p, res.Output)
			}
		}
	}
	if got, _ := os.ReadFile(h.outside); string(got) != "untouched" {
		t.Fatalf("outside changed: %q", got)
	}
	// Invalid arguments are refused before the skill runs.
	h.refused("fs_write", map[string]any{"path": "nothing.txt"}, "content")
	if _, err := os.Stat(filepath.Join(h.root, "nothing.txt")); !os.IsNotExist(err) {
		t.Fatal("a refused write created the file")
	}
	h.refused("fs_read", map[string]any{"path": "x", "mode": "raw"}, "mode")
	// A skill the agent was not granted is refused.
	h.allowed = []string{"fs_read"}
	h.refused("fs_write", map[string]any{"path": "b.txt", "content": "x"}, "not permitted")
	// Without an agent calling, no workspace.
	res := h.reg.Call(context.Background(), llm.ToolCall{ID: "c", Name: "fs_read", Arguments: json.RawMessage(`{"path":"a"}`)}, []string{"fs_read"})
	if !res.IsError || !strings.Contains(res.Error, "no agent") {
		t.Fatalf("no caller: %+v", res)
	}
	if p := h.reg.Permissions("fs_write"); len(p) != 1 || p[0] != tools.PermWrite {
		t.Fatalf("permissions %v", p)
	}
	if p := h.reg.Permissions("git_commit"); len(p) != 2 {
		t.Fatalf("git permissions %v", p)
	}
}

func TestCodeAndShellSkillsRunIsolatedWithLimits(t *testing.T) {
	h := newSkills(t)
	h.ok("fs_write", map[string]any{"path": "calc.py", "content": "print(6*7)\n"})
	if got := h.ok("run_code", map[string]any{"language": "python", "code": "exec(open('calc.py').read())"}); got["stdout"] != "42\n" {
		t.Fatalf("python in the workspace: %v", got)
	}
	if got := h.ok("run_code", map[string]any{"language": "javascript", "code": "console.log([1,2,3].map(x => x * 2).join(','))"}); got["stdout"] != "2,4,6\n" {
		t.Fatalf("javascript: %v", got)
	}
	if got := h.ok("shell", map[string]any{"command": "python3 calc.py && ls | wc -l"}); got["stdout"] != "42\n1\n" {
		t.Fatalf("shell: %v", got)
	}
	// Code writes in the workspace, and the file skills see it.
	h.ok("run_code", map[string]any{"language": "shell", "code": "echo made by code > out.txt"})
	if got := h.ok("fs_read", map[string]any{"path": "out.txt"}); got["content"] != "made by code\n" {
		t.Fatalf("file written by code: %v", got)
	}
	// Limits stop runaway code with a clear reason.
	h.refused("run_code", map[string]any{"language": "python", "code": "while True: pass"}, "cpu_time")
	h.refused("run_code", map[string]any{"language": "python", "code": "x = bytearray(2 << 30)"}, "memory")
	h.refused("run_code", map[string]any{"language": "python", "code": "while True: print('spam' * 100)"}, "output")
	net := h.ok("run_code", map[string]any{"language": "python",
		"code": "import socket\ntry:\n  socket.create_connection(('1.1.1.1', 53), timeout=2)\n  print('connected')\nexcept OSError as e:\n  print('refused', e)"})
	if !strings.HasPrefix(net["stdout"].(string), "refused") {
		t.Fatalf("the network was reachable: %v", net)
	}
	// The shell's allowlist and block list.
	for _, cmd := range []string{"curl http://example.com", "sudo ls", "rm -rf /", "cat ../../outside.txt", "cat /etc/passwd",
		"echo $(id)", "echo `id`", "bash -c ls", "ls; nc -l 1234", "cat ~/.ssh/id_rsa", "python3 x.py > /tmp/x"} {
		if res := h.call("shell", map[string]any{"command": cmd}); !res.IsError || !strings.Contains(res.Error, "not") {
			t.Fatalf("shell %q: %+v", cmd, res)
		}
	}
	h.refused("run_code", map[string]any{"language": "ruby", "code": "puts 1"}, "language")
	if got, _ := os.ReadFile(h.outside); string(got) != "untouched" {
		t.Fatalf("outside changed: %q", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
