package dashboard_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
	"github.com/gathering/gathering/ratelimit"
)

const (
	adminEmail    = "admin@e2e.example"
	adminPassword = "end to end password 42"
)

// unlimited admits every request: the suite clicks faster than a person.
type unlimited struct{}

func (unlimited) Take(_ context.Context, t ratelimit.Tier, _ string, now time.Time) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true, Limit: t.Limit, Remaining: t.Limit, Reset: now.Add(t.Window)}, nil
}

// run runs a command in dir and fails the test with its output if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestConsoleEndToEnd builds the console from its sources, serves it from a real server on a
// real database (models answered by the OpenAI fake, which streams), and drives it in Debian's
// Chromium with playwright-core (e2e/run.mjs): log in, create an agent, chat and see the answer
// stream, follow a circle conversation live, run a pipeline, search memory, schedules and the
// calendar, the event log with its audit chain, and the pages at phone width.
func TestConsoleEndToEnd(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "dashboard")
	run(t, root, nil, "bash", "scripts/ensure-npm.sh", dir)
	chromium := lastLine(run(t, root, nil, "bash", "scripts/ensure-chromium.sh"))
	built := t.TempDir()
	run(t, dir, nil, "npx", "vite", "build", "--outDir", built, "--emptyOutDir", "--logLevel", "warn")

	fake := llmtest.NewOpenAI(t).PaceWords(120 * time.Millisecond) // slow enough to watch the answer grow
	// In the order the suite asks: the chat's answer, then the conversation's two turns.
	fake.Reply("Hello from Ada, streamed token by token.")
	fake.Reply("Ada opens: we ship on Friday.")
	fake.Reply("Bob agrees and adds the checklist.")

	// Workspaces live where the sandboxed terminal's user can walk down to them, as on a server.
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	db := testdb.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := app.Options{Logger: zerolog.Nop(), ClientBuffer: 256, Secret: []byte("end-to-end-secret-long-enough-for-hs256!!"),
		Admin: app.AdminBootstrap{Email: adminEmail, Password: adminPassword}, Limits: unlimited{},
		LLM:       llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), Timeout: 20 * time.Second, MaxRetries: -1},
		Dashboard: os.DirFS(built), WorkspacesDir: filepath.Join(base, "workspaces"), ReadYourWrites: 5 * time.Second, ChatTimeout: 30 * time.Second}
	a, err := app.Start(context.Background(), db, ln, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(0, 10*time.Second) })

	shots := os.Getenv("E2E_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if !filepath.IsAbs(shots) {
		shots = filepath.Join(root, shots)
	}
	cmd := exec.Command("node", "e2e/run.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+a.Addr(), "CHROMIUM="+chromium, "ADMIN_EMAIL="+adminEmail,
		"ADMIN_PASSWORD="+adminPassword, "SCREENSHOTS="+shots)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("e2e/run.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the end-to-end suite failed: %v", err)
	}
	if got := len(fake.Requests()); got != 3 {
		t.Fatalf("the model was asked %d times; the suite scripts 3 answers", got)
	}
}
