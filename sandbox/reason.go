package sandbox

import (
	"strings"
	"syscall"
	"time"
)

// outcome is what is known about a finished run when its reason is decided.
type outcome struct {
	killedFor string         // the reason Run killed it for, if it did
	signal    syscall.Signal // the signal that ended it, or 0
	exitCode  int
	cpu       time.Duration
	cpuLimit  time.Duration
	stderr    string
}

// Messages interpreters and the shell print when a limit makes a call fail, lower case.
// Limits that fail a call rather than kill leave nothing else to go by. The code can print
// them too, so a reason from them is a diagnosis, not proof.
var (
	processMessages = []string{
		"fork: retry: resource temporarily unavailable", // bash, while it retries
		"fork: resource temporarily unavailable",        // bash
		"blockingioerror: [errno 11]",                   // python os.fork, subprocess
		"can't start new thread",                        // python threading
		"code: 'eagain'",                                // node child_process
		"pthread_create",                                // node, C programs
	}
	memoryMessages = []string{
		"memoryerror",                   // python
		"javascript heap out of memory", // V8 at its heap limit
		"fatal process out of memory",   // V8 when the system refuses
		"array buffer allocation failed",
		"cannot allocate memory",   // ENOMEM
		"xmalloc: cannot allocate", // bash
		"xrealloc: cannot allocate",
		"std::bad_alloc",
	}
	fileSizeMessages = []string{
		"file too large",           // EFBIG
		"efbig",                    // node
		"file size limit exceeded", // bash, of a child killed by SIGXFSZ
	}
)

func mentions(stderr string, messages []string) bool {
	lower := strings.ToLower(stderr)
	for _, m := range messages {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// classify decides Result.Reason.
func classify(o outcome) string {
	if o.signal == 0 && o.exitCode == 0 {
		return ""
	}
	// A fork bomb in bash is rarely stopped by the process limit itself: bash retries each
	// failed fork for 15 s, so the wall clock or the output limit ends it. The process limit is
	// still what it ran into.
	fork := mentions(o.stderr, processMessages)
	// Our kill is the reason only if it is what ended the process; one that exited at the
	// moment we killed it ended on its own.
	if o.killedFor != "" && o.signal == syscall.SIGKILL {
		if fork && o.killedFor != ReasonCancelled {
			return ReasonProcesses
		}
		return o.killedFor
	}
	switch {
	case fork:
		return ReasonProcesses
	case mentions(o.stderr, memoryMessages):
		return ReasonMemory
	case o.signal == syscall.SIGXFSZ || o.exitCode == 128+int(syscall.SIGXFSZ) || mentions(o.stderr, fileSizeMessages):
		return ReasonFileSize
	case o.signal == syscall.SIGXCPU || o.exitCode == 128+int(syscall.SIGXCPU):
		return ReasonCPUTime
	// At the hard limit the kernel sends SIGKILL, which looks like any other. The code cannot
	// send it to its namespace's PID 1, so unless Run did, the kernel most likely did; the
	// CPU time spent rules out the OOM killer or an operator. It is compared with half the
	// limit because the kernel charges whole clock ticks against RLIMIT_CPU, while rusage
	// reports the time actually run, which is well short of it on a busy machine (870 ms
	// for a 1 s limit, seen). A shell reports a child's death as 128+9.
	case (o.signal == syscall.SIGKILL || o.exitCode == 128+int(syscall.SIGKILL)) && o.cpu >= o.cpuLimit/2:
		return ReasonCPUTime
	case o.signal != 0:
		return ReasonSignal
	}
	return ""
}
