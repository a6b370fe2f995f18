// Package sandbox runs untrusted Python, JavaScript and shell code for the agents'
// code-execution skill in a child process with hard limits, and reports why it stopped.
//
// Each run is a child of this process that:
//
//   - runs as a user id of its own (leased from a range, see Config), so RLIMIT_NPROC, which
//     the kernel counts per real user id, bounds this run alone, and one run cannot signal,
//     trace or read the memory of another;
//   - is PID 1 of a new PID namespace, so when it ends, or is killed, the kernel kills every
//     process it started, including those that left its process group; nothing outlives Run;
//   - has a new, empty network namespace unless Limits.Network is set, and new IPC and UTS
//     namespaces;
//   - gets its resource limits from prlimit and no-new-privileges from setpriv (util-linux),
//     exec'd between the fork and the interpreter, because os/exec has no pre-exec hook;
//   - sees a clean environment (PATH, HOME, TMPDIR, LANG, MALLOC_ARENA_MAX and Request.Env).
//
// Being PID 1, the interpreter ignores every signal it has no handler for, except SIGKILL,
// when it comes from inside the namespace or from the kernel: SIGXCPU and SIGXFSZ (the limits
// still hold: the CPU limit kills with SIGKILL, a write past the file size fails with EFBIG),
// a kill of itself, and abort(), which then ends in SIGSEGV (V8 out of heap does that). Its
// children behave normally.
//
// Not covered: the child still sees the host's file system (with the permissions of an
// unprivileged user) and /proc, including other processes' command lines; /tmp and /dev/shm
// are shared with the host; memory limits are per process, so a run can use at most
// Limits.Processes × Limits.Memory in all. A cgroup and a mount namespace would close these.
//
// Run needs root (to switch user ids and create namespaces), prlimit and setpriv.
package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// Language is the interpreter code is written for.
type Language string

// The languages Run knows.
const (
	Python     Language = "python"
	JavaScript Language = "javascript"
	Shell      Language = "shell"
)

// Reasons a run stopped, in Result.Reason. A run that exited on its own, with any code and
// no sign of a limit, has the empty reason.
const (
	ReasonCPUTime   = "cpu_time"   // RLIMIT_CPU: the kernel killed it
	ReasonMemory    = "memory"     // an allocation failed under the memory limit
	ReasonWallClock = "wall_clock" // Run killed it at Limits.WallClock
	ReasonOutput    = "output"     // Run killed it when stdout+stderr passed Limits.Output
	ReasonProcesses = "processes"  // creating a process or thread failed under RLIMIT_NPROC
	ReasonFileSize  = "file_size"  // writing a file past RLIMIT_FSIZE failed or killed it
	ReasonSignal    = "signal"     // some other signal ended it (Result.Signal says which)
	ReasonCancelled = "cancelled"  // Run's context ended first; Run killed it
)

// Limits bound one run. A zero field takes its default.
type Limits struct {
	// CPUTime is RLIMIT_CPU of each process, rounded up to whole seconds. Default 5 s.
	CPUTime time.Duration
	// Memory is RLIMIT_DATA and RLIMIT_AS of each process, in bytes. Default 256 MiB.
	// JavaScript gets 1 GiB more address space, which V8 reserves at start and never
	// touches, and a V8 heap limit of three quarters of Memory, so running out of heap is
	// reported by V8 itself.
	Memory int64
	// Output is how many bytes of stdout and stderr together are kept; the run is killed
	// when it writes more. Default 64 KiB.
	Output int64
	// WallClock is how long the run may take before it is killed. Default 10 s.
	WallClock time.Duration
	// Processes is RLIMIT_NPROC: the processes and threads the run's user may have at once,
	// the interpreter and its own threads included (node alone starts about ten). Default 64.
	Processes int
	// FileSize is RLIMIT_FSIZE, the largest file the run may write, in bytes. Default 10 MiB.
	FileSize int64
	// Network, when false, gives the run a network namespace with only a loopback interface
	// that is down: it can connect nowhere, not even to services on this machine's localhost.
	Network bool
}

// Defaults of Limits.
const (
	DefaultCPUTime   = 5 * time.Second
	DefaultMemory    = 256 << 20
	DefaultOutput    = 64 << 10
	DefaultWallClock = 10 * time.Second
	DefaultProcesses = 64
	DefaultFileSize  = 10 << 20
)

func (l Limits) withDefaults() Limits {
	if l.CPUTime <= 0 {
		l.CPUTime = DefaultCPUTime
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.Output <= 0 {
		l.Output = DefaultOutput
	}
	if l.WallClock <= 0 {
		l.WallClock = DefaultWallClock
	}
	if l.Processes <= 0 {
		l.Processes = DefaultProcesses
	}
	if l.FileSize <= 0 {
		l.FileSize = DefaultFileSize
	}
	return l
}

// Request is one piece of code to run.
type Request struct {
	Language Language
	Code     string
	Stdin    string
	// Dir is the working directory and HOME. Empty means a fresh private directory, removed
	// after the run. A given Dir is used as it is: the run's user has only the access its
	// permissions give to others and to Config.GID, and files the code creates there are
	// owned by the run's user id and Config.GID.
	Dir string
	// Env is added to the clean environment and may override it.
	Env    map[string]string
	Limits Limits
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the code the process exited with, or 128 + the signal that killed it,
	// as a shell reports it.
	ExitCode int
	// Stdout and Stderr are what the run wrote, at most Limits.Output bytes together.
	Stdout, Stderr string
	// Truncated says output was dropped past Limits.Output.
	Truncated bool
	Duration  time.Duration
	// CPUTime is the user and system time of the interpreter and the processes it waited for.
	CPUTime time.Duration
	// Killed says a signal ended the run rather than its own exit.
	Killed bool
	// Reason says which limit stopped the run (Reason* constants), or "".
	Reason string
	// Signal names the signal that ended the run ("SIGKILL"), or "".
	Signal string
}

// Errors Run returns when it cannot start the code.
var (
	ErrLanguage   = errors.New("sandbox: language not available")
	ErrPrivileges = errors.New("sandbox: running code isolated needs root")
	ErrTools      = errors.New("sandbox: prlimit and setpriv (util-linux) are needed")
)

// searchPath is where interpreters and tools are looked up, and the child's PATH. It is fixed
// rather than inherited because this process's PATH may lead to per-user installs (pyenv shims
// under /root, say) that the run's unprivileged user cannot open.
const searchPath = "/usr/local/bin:/usr/bin:/bin"

var interpreterNames = map[Language][]string{
	Python:     {"python3"},
	JavaScript: {"node", "nodejs"},
	Shell:      {"bash"},
}

// Available returns the languages Run can execute on this machine, with their interpreters'
// paths. It is empty when Run cannot isolate code here at all (not root, no util-linux tools).
func Available() map[Language]string {
	found := map[Language]string{}
	if _, err := tools(); err != nil {
		return found
	}
	for lang, names := range interpreterNames {
		for _, name := range names {
			if p, ok := lookPath(name); ok {
				found[lang] = p
				break
			}
		}
	}
	return found
}

type toolPaths struct{ prlimit, setpriv string }

func tools() (toolPaths, error) {
	if os.Geteuid() != 0 {
		return toolPaths{}, ErrPrivileges
	}
	prlimit, ok1 := lookPath("prlimit")
	setpriv, ok2 := lookPath("setpriv")
	if !ok1 || !ok2 {
		return toolPaths{}, ErrTools
	}
	return toolPaths{prlimit: prlimit, setpriv: setpriv}, nil
}

// lookPath finds name in searchPath, keeping only files every user may execute: the run's
// user is neither their owner nor in their group.
func lookPath(name string) (string, bool) {
	for _, dir := range filepath.SplitList(searchPath) {
		p := filepath.Join(dir, name)
		info, err := os.Stat(p)
		if err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o001 != 0 {
			return p, true
		}
	}
	return "", false
}
