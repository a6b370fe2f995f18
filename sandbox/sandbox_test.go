package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Each test takes a user id range no other test uses, so that after every run it can check
// that no process of its ids is left, without a parallel test's runs getting in the way.
var ranges atomic.Uint32

const testFirstUID = 2_100_000_000

type box struct {
	*Sandbox
	first, n uint32
}

func newBox(t *testing.T) box {
	t.Helper()
	// The suite must run where the sandbox can (CI runs as root with util-linux): a machine
	// that cannot isolate code fails here rather than pretending the limits were checked.
	if os.Geteuid() != 0 {
		t.Fatal("the sandbox needs root (to switch to its uids and make namespaces); run the tests as root")
	}
	if _, err := tools(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	first := testFirstUID + ranges.Add(1)*n
	return box{New(Config{FirstUID: first, UIDs: n}), first, n}
}

func needs(t *testing.T, lang Language) {
	t.Helper()
	if _, ok := Available()[lang]; !ok {
		t.Fatalf("no interpreter for %s in /usr/local/bin, /usr/bin or /bin (python3, node and bash are expected)", lang)
	}
}

// run runs r and checks that the run left nothing behind: its process group is gone and no
// process has one of the box's user ids.
func (b box) run(t *testing.T, r Request) Result {
	t.Helper()
	needs(t, r.Language)
	var pid int
	var uid uint32
	ctx := context.WithValue(context.Background(), startedKey{}, func(p int, u uint32) { pid, uid = p, u })
	res, err := b.Run(ctx, r)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if uid < b.first || uid >= b.first+b.n {
		t.Errorf("ran as uid %d, outside %d+%d", uid, b.first, b.n)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still there: kill(0) = %v", pid, err)
	}
	if left := processesOf(t, b.first, b.n); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	t.Logf("%s: exit=%d killed=%v reason=%q signal=%s truncated=%v duration=%v cpu=%v stdout=%d stderr=%d bytes",
		r.Language, res.ExitCode, res.Killed, res.Reason, res.Signal, res.Truncated,
		res.Duration.Round(time.Millisecond), res.CPUTime.Round(time.Millisecond), len(res.Stdout), len(res.Stderr))
	return res
}

// processesOf lists the processes whose real uid is in [first, first+n).
func processesOf(t *testing.T, first, n uint32) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				if u, err := strconv.ParseUint(f[1], 10, 32); err == nil && uint32(u) >= first && uint32(u) < first+n {
					found = append(found, e.Name()+" uid "+f[1])
				}
			}
		}
	}
	return found
}

func wantReason(t *testing.T, res Result, reason string) {
	t.Helper()
	if res.Reason != reason {
		t.Errorf("reason %q, want %q (exit %d, signal %q)\nstderr: %s", res.Reason, reason, res.ExitCode, res.Signal, tail(res.Stderr))
	}
}

func tail(s string) string {
	if len(s) > 800 {
		return "…" + s[len(s)-800:]
	}
	return s
}

var programs = map[Language]struct{ hello, stdin, exit string }{
	Python: {
		hello: `print("hello")`,
		stdin: `import sys; print(sys.stdin.read().upper(), end="")`,
		exit:  `import sys; print("bye", file=sys.stderr); sys.exit(3)`,
	},
	JavaScript: {
		hello: `console.log("hello")`,
		stdin: `let s = ""; process.stdin.on("data", d => s += d).on("end", () => process.stdout.write(s.toUpperCase()))`,
		exit:  `console.error("bye"); process.exit(3)`,
	},
	Shell: {
		hello: `echo hello`,
		stdin: `tr a-z A-Z`,
		exit:  `echo bye >&2; exit 3`,
	},
}

func TestLanguages(t *testing.T) {
	t.Parallel()
	for _, lang := range []Language{Python, JavaScript, Shell} {
		p := programs[lang]
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			b := newBox(t)
			res := b.run(t, Request{Language: lang, Code: p.hello})
			if res.Stdout != "hello\n" || res.Stderr != "" || res.ExitCode != 0 || res.Killed || res.Reason != "" {
				t.Errorf("hello: %+v", res)
			}

			res = b.run(t, Request{Language: lang, Code: p.stdin, Stdin: "from stdin\nline two\n"})
			if res.Stdout != "FROM STDIN\nLINE TWO\n" || res.ExitCode != 0 {
				t.Errorf("stdin: %+v", res)
			}

			res = b.run(t, Request{Language: lang, Code: p.exit})
			if res.ExitCode != 3 || res.Stderr != "bye\n" || res.Killed || res.Reason != "" {
				t.Errorf("exit: %+v", res)
			}
		})
	}
}

func TestCPUTimeLimit(t *testing.T) {
	t.Parallel()
	limits := Limits{CPUTime: time.Second, WallClock: 20 * time.Second}
	for _, c := range []struct {
		name string
		lang Language
		code string
	}{
		{"python", Python, "while True: pass"},
		{"javascript", JavaScript, "for (;;) {}"},
		{"shell", Shell, "while :; do :; done"},
		// The limit is per process: a child the shell starts is killed by it too.
		{"shell child", Shell, "python3 -c 'while True: pass'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := newBox(t)
			res := b.run(t, Request{Language: c.lang, Code: c.code, Limits: limits})
			wantReason(t, res, ReasonCPUTime)
			if res.ExitCode != 137 {
				t.Errorf("exit %d, want 137", res.ExitCode)
			}
			if res.Duration > 8*time.Second {
				t.Errorf("took %v to stop a 1 s CPU limit", res.Duration)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		lang   Language
		code   string
		memory int64
	}{
		{"python 1 GiB at once", Python, "b = bytearray(1 << 30)\nprint(len(b))", 0},
		{"python growing", Python, "a = []\nwhile True: a.append(bytearray(10 << 20))", 0},
		{"javascript 1 GiB buffer", JavaScript, "const b = new Uint8Array(1 << 30); b.fill(1); console.log(b.length)", 0},
		{"javascript heap", JavaScript, "const a = []; for (;;) a.push(new Array(1e6).fill(1.5))", 0},
		{"shell", Shell, `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo ${#x}`, 64 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := newBox(t)
			res := b.run(t, Request{Language: c.lang, Code: c.code, Limits: Limits{Memory: c.memory}})
			wantReason(t, res, ReasonMemory)
			if res.ExitCode == 0 || res.Stdout != "" {
				t.Errorf("exit %d, stdout %q: the allocation succeeded", res.ExitCode, res.Stdout)
			}
		})
	}
}

func TestProcessLimit(t *testing.T) {
	t.Parallel()
	t.Run("python fork loop", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		// The children outlive the parent unless the sandbox ends them.
		code := "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)\n"
		res := b.run(t, Request{Language: Python, Code: code, Limits: Limits{Processes: 20}})
		wantReason(t, res, ReasonProcesses)
		if res.ExitCode != 1 || res.Duration > 5*time.Second {
			t.Errorf("exit %d after %v, want 1 at once", res.ExitCode, res.Duration)
		}
	})
	t.Run("javascript spawn loop", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		code := `const cp = require("child_process"); for (let i = 0; i < 500; i++) cp.spawn("sleep", ["60"])`
		res := b.run(t, Request{Language: JavaScript, Code: code, Limits: Limits{Processes: 30}})
		wantReason(t, res, ReasonProcesses)
	})
	t.Run("bash fork bomb", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		// The sleep keeps the script, PID 1 of the namespace, alive while the bomb runs:
		// otherwise its end would take the bomb with it at once.
		res := b.run(t, Request{Language: Shell, Code: ":(){ :|:& };:\nsleep 30",
			Limits: Limits{Processes: 32, WallClock: 3 * time.Second}})
		wantReason(t, res, ReasonProcesses)
		if !res.Killed {
			t.Error("the bomb was not killed")
		}
		// The machine, and the same user id range, are fine afterwards.
		res = b.run(t, Request{Language: Shell, Code: "echo alive"})
		if res.Stdout != "alive\n" {
			t.Errorf("after the bomb: %+v", res)
		}
	})
}

func TestOutputLimit(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		res := b.run(t, Request{Language: Python, Code: "while True: print('x' * 100)"})
		wantReason(t, res, ReasonOutput)
		if !res.Truncated || !res.Killed || len(res.Stdout) != DefaultOutput {
			t.Errorf("truncated=%v killed=%v stdout %d bytes, want %d", res.Truncated, res.Killed, len(res.Stdout), DefaultOutput)
		}
	})
	t.Run("stdout and stderr share it", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		res := b.run(t, Request{Language: Shell, Code: "while :; do echo out; echo err >&2; done", Limits: Limits{Output: 1000}})
		wantReason(t, res, ReasonOutput)
		// Which stream fills the budget depends on which pipe is read first.
		if got := len(res.Stdout) + len(res.Stderr); !res.Truncated || got != 1000 {
			t.Errorf("truncated=%v, kept %d+%d bytes, want 1000 in all", res.Truncated, len(res.Stdout), len(res.Stderr))
		}
	})
}

func TestWallClockLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lang Language
		code string
	}{
		{Python, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)"},
		{JavaScript, "console.log('sleeping'); setTimeout(() => {}, 60000)"},
		{Shell, "echo sleeping; sleep 60"},
	} {
		t.Run(string(c.lang), func(t *testing.T) {
			t.Parallel()
			b := newBox(t)
			res := b.run(t, Request{Language: c.lang, Code: c.code, Limits: Limits{WallClock: time.Second}})
			wantReason(t, res, ReasonWallClock)
			if !res.Killed || res.Signal != "SIGKILL" || res.Stdout != "sleeping\n" {
				t.Errorf("%+v", res)
			}
			if res.Duration < time.Second || res.Duration > 4*time.Second {
				t.Errorf("stopped after %v, want about 1 s", res.Duration)
			}
		})
	}
	t.Run("escaped background process", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		// setsid leaves the process group and the parent does not wait: the run ends when the
		// script does, and b.run checks the sleep is gone.
		res := b.run(t, Request{Language: Shell, Code: "setsid sleep 60 & disown; echo started"})
		if res.Stdout != "started\n" || res.ExitCode != 0 || res.Duration > 3*time.Second {
			t.Errorf("%+v", res)
		}
	})
}

func TestNetwork(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	// 5432 is PostgreSQL on this machine; the listener above is a localhost service that
	// surely listens; 1.1.1.1:53 is the internet.
	connect := func(targets ...string) string {
		return fmt.Sprintf(`import socket, sys
failed = 0
for host, port in %s:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("connected", host, port)
    except OSError as e:
        print("failed", host, port, e, file=sys.stderr)
        failed += 1
sys.exit(1 if failed else 0)
`, "["+strings.Join(targets, ", ")+"]")
	}
	local := fmt.Sprintf(`("127.0.0.1", %d)`, port)

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		res := b.run(t, Request{Language: Python, Code: connect(local, `("127.0.0.1", 5432)`, `("1.1.1.1", 53)`)})
		if res.ExitCode == 0 || res.Stdout != "" || strings.Count(res.Stderr, "Network is unreachable") != 3 {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
		}
	})
	t.Run("off javascript", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		code := fmt.Sprintf(`require("net").connect(%d, "127.0.0.1").on("connect", () => { console.log("connected"); process.exit(0) }).on("error", e => { console.error(e.code); process.exit(2) })`, port)
		res := b.run(t, Request{Language: JavaScript, Code: code})
		if res.ExitCode != 2 || res.Stderr != "ENETUNREACH\n" {
			t.Errorf("%+v", res)
		}
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		b := newBox(t)
		res := b.run(t, Request{Language: Python, Code: connect(local), Limits: Limits{Network: true}})
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "connected") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
		}
	})
}

// Not parallel: it sets this process's environment.
func TestEnvironmentDoesNotLeak(t *testing.T) {
	b := newBox(t)
	t.Setenv("DATABASE_URL", "postgres://app:secret@127.0.0.1:5432/gathering")
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	code := `import json, os; print(json.dumps({"env": dict(os.environ), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}))`
	res := b.run(t, Request{Language: Python, Code: code, Env: map[string]string{"GREETING": "hi"}})
	var got struct {
		Env    map[string]string
		UID    uint32
		GID    uint32
		Groups []uint32
	}
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatalf("%v: %+v", err, res)
	}
	var keys []string
	for k := range got.Env {
		keys = append(keys, k)
	}
	if strings.Contains(res.Stdout, "secret") || len(got.Env) != 6 || got.Env["GREETING"] != "hi" ||
		got.Env["PATH"] != searchPath || got.Env["HOME"] == "" {
		t.Errorf("environment %v", got.Env)
	}
	if got.UID < b.first || got.UID >= b.first+b.n || got.GID != DefaultGID || len(got.Groups) > 1 {
		t.Errorf("ran as uid %d gid %d groups %v", got.UID, got.GID, got.Groups)
	}

	if _, err := b.Run(context.Background(), Request{Language: Python, Code: "pass", Env: map[string]string{"A=B": "c"}}); err == nil {
		t.Error("a variable name with = was accepted")
	}
}

func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	limits := Limits{FileSize: 1 << 20}
	for _, c := range []struct {
		lang Language
		code string
	}{
		{Python, "with open('big', 'wb') as f:\n    f.write(b'0' * (20 << 20))"},
		{JavaScript, `require("fs").writeFileSync("big", Buffer.alloc(20 << 20))`},
		// head dies of SIGXFSZ; bash reports it and passes on 128+25.
		{Shell, "head -c 20000000 /dev/zero > big"},
	} {
		t.Run(string(c.lang), func(t *testing.T) {
			t.Parallel()
			b := newBox(t)
			res := b.run(t, Request{Language: c.lang, Code: c.code, Limits: limits})
			wantReason(t, res, ReasonFileSize)
			if res.ExitCode == 0 {
				t.Error("exit 0")
			}
		})
	}
}

func TestWorkingDirectory(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	// A workspace is opened to runs through the sandbox group.
	parent := t.TempDir()
	dir := filepath.Join(parent, "workspace")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	for _, chmod := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Dir(parent), 0o711}, {parent, 0o711}, {dir, 0o770}} {
		if err := os.Chmod(chmod.path, chmod.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, 0, DefaultGID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "input.txt"), []byte("42"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := "import os\nn = int(open('input.txt').read())\nopen('output.txt', 'w').write(str(n * 2))\nprint(os.getcwd() == os.environ['HOME'] == " + strconv.Quote(dir) + ")"
	res := b.run(t, Request{Language: Python, Code: code, Dir: dir})
	if res.Stdout != "True\n" || res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	out, err := os.ReadFile(filepath.Join(dir, "output.txt"))
	if err != nil || string(out) != "84" {
		t.Errorf("output.txt: %q, %v", out, err)
	}

	if _, err := b.Run(context.Background(), Request{Language: Python, Code: "pass", Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing Dir was accepted")
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	needs(t, Python)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := b.Run(ctx, Request{Language: Python, Code: "import time; time.sleep(60)"})
	if err != nil || res.Reason != ReasonCancelled || !res.Killed || res.Duration > 3*time.Second {
		t.Errorf("%+v, %v", res, err)
	}
	if _, err := b.Run(ctx, Request{Language: Python, Code: "pass"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("done context: %v", err)
	}
	if _, err := b.Run(context.Background(), Request{Language: "cobol", Code: "pass"}); !errors.Is(err, ErrLanguage) {
		t.Errorf("unknown language: %v", err)
	}
}

func TestConcurrentRunsTakeTheirOwnUser(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	needs(t, Python)
	small := box{New(Config{FirstUID: b.first, UIDs: 2}), b.first, 2}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := small.Run(context.Background(), Request{Language: Python, Code: "import os, time; time.sleep(0.2); print(os.getuid())"})
			if err != nil || res.ExitCode != 0 {
				t.Errorf("%+v, %v", res, err)
				return
			}
			mu.Lock()
			seen[strings.TrimSpace(res.Stdout)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Five runs over two ids: the others waited for a lease.
	if len(seen) != 2 {
		t.Errorf("uids used: %v, want both of the two", seen)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name string
		o    outcome
		want string
	}{
		{"clean exit", outcome{}, ""},
		{"exit 0 despite fork errors", outcome{stderr: "fork: Resource temporarily unavailable"}, ""},
		{"plain failure", outcome{exitCode: 1, stderr: "ValueError"}, ""},
		{"our kill", outcome{killedFor: ReasonWallClock, signal: syscall.SIGKILL, exitCode: 137}, ReasonWallClock},
		{"exited as we killed", outcome{killedFor: ReasonWallClock, exitCode: 2}, ""},
		{"bomb stopped by the clock", outcome{killedFor: ReasonWallClock, signal: syscall.SIGKILL, stderr: "x: fork: retry: Resource temporarily unavailable"}, ReasonProcesses},
		{"cpu", outcome{signal: syscall.SIGKILL, cpu: 990 * time.Millisecond, cpuLimit: time.Second}, ReasonCPUTime},
		{"someone else's SIGKILL", outcome{signal: syscall.SIGKILL, cpu: 10 * time.Millisecond, cpuLimit: time.Second}, ReasonSignal},
		{"segfault", outcome{signal: syscall.SIGSEGV}, ReasonSignal},
		{"node out of heap", outcome{signal: syscall.SIGSEGV, stderr: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"}, ReasonMemory},
		{"xfsz", outcome{signal: syscall.SIGXFSZ}, ReasonFileSize},
	} {
		if got := classify(c.o); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
