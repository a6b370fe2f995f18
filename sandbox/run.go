package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nodeAddressSlack is address space node gets beyond Limits.Memory: V8 reserves about
// 700 MiB at start (code range, heap reservations, thread stacks) that it never touches and
// that RLIMIT_AS would otherwise refuse. RLIMIT_DATA still bounds the memory it uses.
const nodeAddressSlack = 1 << 30

// startedKey is a context key under which tests put a func(pid int, uid uint32) to learn
// who a run was, and check that nothing of it is left once Run returns.
type startedKey struct{}

// Run runs r in a fresh child process and waits for it to end. Limits that stop the code are
// reported in the Result; the error is for a run that could not start (unknown language,
// missing privileges or tools, a bad Dir or Env, ctx already done).
func (s *Sandbox) Run(ctx context.Context, r Request) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	tp, err := tools()
	if err != nil {
		return Result{}, err
	}
	interp, ok := Available()[r.Language]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrLanguage, r.Language)
	}
	lim := r.Limits.withDefaults()

	uid, release, err := s.leaseUID(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()

	// The script goes to a file, not to -c, because one exec argument is capped at 128 KiB.
	scratch, err := os.MkdirTemp("", "sandbox-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(scratch)
	script := filepath.Join(scratch, "main"+map[Language]string{Python: ".py", JavaScript: ".js", Shell: ".sh"}[r.Language])
	if err := os.WriteFile(script, []byte(r.Code), 0o600); err != nil {
		return Result{}, err
	}
	// The directory is handed over last, so root never writes into a directory its user owns.
	for _, p := range []string{script, scratch} {
		if err := os.Chown(p, int(uid), int(s.cfg.GID)); err != nil {
			return Result{}, err
		}
	}

	dir := r.Dir
	if dir == "" {
		dir = scratch
	}
	env, err := environment(dir, scratch, r.Env)
	if err != nil {
		return Result{}, err
	}

	args := []string{tp.setpriv, "--no-new-privs", "--", tp.prlimit}
	args = append(args, rlimitArgs(r.Language, lim)...)
	args = append(args, "--", interp)
	args = append(args, interpreterArgs(r.Language, lim)...)
	args = append(args, script)

	cmd := &exec.Cmd{Path: tp.setpriv, Args: args, Dir: dir, Env: env}
	cloneflags := uintptr(syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	if !lim.Network {
		cloneflags |= syscall.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: cloneflags,
		// A session of its own is a process group of its own, and more: no controlling
		// terminal to inject keystrokes into (TIOCSTI), and no way to move into one of our
		// process groups, which setpgid allows within a session.
		Setsid: true,
		// Should this process die first, the kernel kills the namespace's PID 1, and so all.
		Pdeathsig:  syscall.SIGKILL,
		Credential: &syscall.Credential{Uid: uid, Gid: s.cfg.GID, Groups: []uint32{}},
	}
	return runChild(ctx, cmd, r.Stdin, lim, uid)
}

// runChild starts cmd and sees it through to its Result.
func runChild(ctx context.Context, cmd *exec.Cmd, stdin string, lim Limits, uid uint32) (Result, error) {
	// The pipes are ours, not os/exec's copying goroutines, so that the wait for output ends
	// when the namespace is torn down, whatever the code left running or did with its fds.
	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{}, err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return Result{}, err
	}
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	childEnds := []*os.File{outW, errW}
	var inW *os.File
	if stdin != "" {
		var inR *os.File
		if inR, inW, err = os.Pipe(); err != nil {
			closeAll(childEnds)
			return Result{}, err
		}
		cmd.Stdin = inR
		childEnds = append(childEnds, inR)
	}

	began := time.Now()
	err = cmd.Start()
	// Only the child may hold these, or reading its output would never see the end.
	closeAll(childEnds)
	if err != nil {
		if inW != nil {
			inW.Close()
		}
		return Result{}, fmt.Errorf("sandbox: start: %w", err)
	}
	pid := cmd.Process.Pid
	if started, ok := ctx.Value(startedKey{}).(func(int, uint32)); ok {
		started(pid, uid)
	}

	var wg sync.WaitGroup
	if inW != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A child that never reads stdin makes this fail with EPIPE once it is gone.
			_, _ = inW.WriteString(stdin)
			inW.Close()
		}()
	}
	out := newCapture(lim.Output)
	wg.Add(2)
	go func() { defer wg.Done(); out.drain(outR, &out.stdout) }()
	go func() { defer wg.Done(); out.drain(errR, &out.stderr) }()

	// Wait without reaping, so the pid (and process group id) stays ours until we decide it
	// is over: killing the group can then never hit a process that reused the id.
	exited := make(chan struct{})
	go func() {
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		close(exited)
	}()

	wall := time.NewTimer(lim.WallClock)
	defer wall.Stop()
	overflow, done := out.overflow, ctx.Done()
	killedFor := ""
	kill := func(reason string) {
		if killedFor == "" {
			killedFor = reason
		}
		// PID 1 of the namespace leads the group; its death takes every other process with
		// it, including those that left the group.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
wait:
	for {
		select {
		case <-exited:
			break wait
		case <-wall.C:
			kill(ReasonWallClock)
		case <-overflow:
			overflow = nil
			kill(ReasonOutput)
		case <-done:
			done = nil
			kill(ReasonCancelled)
		}
	}
	waitErr := cmd.Wait()
	duration := time.Since(began)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return Result{}, fmt.Errorf("sandbox: wait: %w", waitErr)
	}
	wg.Wait()

	res := Result{
		Stdout:    out.stdout.String(),
		Stderr:    out.stderr.String(),
		Truncated: out.truncated,
		Duration:  duration,
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var sig syscall.Signal
	if ws.Signaled() {
		sig = ws.Signal()
		res.ExitCode = 128 + int(sig)
		res.Killed = true
		res.Signal = unix.SignalName(sig)
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	res.Reason = classify(outcome{
		killedFor: killedFor,
		signal:    sig,
		exitCode:  res.ExitCode,
		cpu:       res.CPUTime,
		cpuLimit:  cpuSeconds(lim.CPUTime),
		stderr:    res.Stderr,
	})
	return res, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// capture keeps the first limit bytes of stdout and stderr together.
type capture struct {
	mu             sync.Mutex
	left           int64
	stdout, stderr bytes.Buffer
	truncated      bool
	overflow       chan struct{} // closed at the first byte past the limit
}

func newCapture(limit int64) *capture {
	return &capture{left: limit, overflow: make(chan struct{})}
}

func (c *capture) drain(r *os.File, into *bytes.Buffer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.keep(into, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (c *capture) keep(into *bytes.Buffer, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(p)) > c.left {
		p = p[:c.left]
		if !c.truncated {
			c.truncated = true
			close(c.overflow)
		}
	}
	into.Write(p)
	c.left -= int64(len(p))
}

// cpuSeconds is the limit RLIMIT_CPU can express: whole seconds, at least one.
func cpuSeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// rlimitArgs are prlimit's options for lim. Soft and hard limits are equal: there is nothing
// to warn, and the interpreter, being PID 1 of its namespace, ignores SIGXCPU and SIGXFSZ.
// The run can only lower limits, so none exceeds what this process has, or prlimit would fail
// before the code starts.
func rlimitArgs(lang Language, lim Limits) []string {
	address := lim.Memory
	if lang == JavaScript {
		address += nodeAddressSlack
	}
	limits := []struct {
		name     string
		resource int
		value    uint64
	}{
		{"cpu", unix.RLIMIT_CPU, uint64(cpuSeconds(lim.CPUTime) / time.Second)},
		{"as", unix.RLIMIT_AS, uint64(address)},
		{"data", unix.RLIMIT_DATA, uint64(lim.Memory)},
		{"nproc", unix.RLIMIT_NPROC, uint64(lim.Processes)},
		{"fsize", unix.RLIMIT_FSIZE, uint64(lim.FileSize)},
		// A core dump of a crashed interpreter would be written into the working directory.
		{"core", unix.RLIMIT_CORE, 0},
	}
	args := make([]string, 0, len(limits))
	for _, l := range limits {
		v := l.value
		var own unix.Rlimit
		if unix.Getrlimit(l.resource, &own) == nil && own.Max != unix.RLIM_INFINITY {
			v = min(v, own.Max)
		}
		// prlimit's own size suffixes crash util-linux 2.38, so the values are plain numbers.
		n := strconv.FormatUint(v, 10)
		args = append(args, "--"+l.name+"="+n+":"+n)
	}
	return args
}

func interpreterArgs(lang Language, lim Limits) []string {
	switch lang {
	case Python:
		// -u: output written before a kill is not lost in a buffer. -s: no user site
		// directory, which would be under HOME, that is the workspace the code can write.
		// -B: no __pycache__ in the workspace.
		return []string{"-u", "-s", "-B"}
	case JavaScript:
		heap := max(lim.Memory*3/4>>20, 16)
		return []string{"--max-old-space-size=" + strconv.FormatInt(heap, 10)}
	case Shell:
		return []string{"--noprofile", "--norc"}
	}
	return nil
}

// environment is the child's whole environment: nothing of this process's (database URLs,
// API keys) reaches it unless the caller passes it in extra.
func environment(home, tmp string, extra map[string]string) ([]string, error) {
	vars := map[string]string{
		"PATH":   searchPath,
		"HOME":   home,
		"TMPDIR": tmp,
		// In the C locale tools escape or refuse non-ASCII text.
		"LANG": "C.UTF-8",
		// glibc reserves 64 MiB of address space per thread arena, which RLIMIT_AS counts.
		"MALLOC_ARENA_MAX": "2",
	}
	for k, v := range extra {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return nil, fmt.Errorf("sandbox: bad environment variable %q", k)
		}
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}
