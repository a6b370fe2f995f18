// Package terminal runs an interactive shell on a pseudo-terminal, confined like the sandbox's
// code: as an unprivileged user of the sandbox's group, in the workspace it is opened on, with
// a clean environment, no new privileges, and limits on processes and file sizes. It is what
// the console's terminal panel talks to (httpapi serves it over a WebSocket); the server's own
// account, files and environment are out of its reach.
package terminal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/gathering/gathering/sandbox"
)

// Config says where and as whom a shell runs.
type Config struct {
	// Base is the folder that holds the workspaces (opened to the group down to Dir).
	Base string
	Dir  string
	// UID is the shell's user (default 1999999999, outside the sandbox's run range); GID the
	// sandbox's group (default sandbox.DefaultGID).
	UID, GID   uint32
	Cols, Rows uint16
}

// Session is one running shell.
type Session struct {
	pty     *os.File
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	code    int
	once    sync.Once
}

// Start opens a shell in cfg.Dir.
func Start(cfg Config) (*Session, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("terminal: the server must run as root to drop a shell to an unprivileged user")
	}
	if cfg.UID == 0 {
		cfg.UID = 1_999_999_999
	}
	if cfg.GID == 0 {
		cfg.GID = sandbox.DefaultGID
	}
	if cfg.Cols == 0 {
		cfg.Cols, cfg.Rows = 80, 24
	}
	if err := sandbox.OpenTo(cfg.Base, cfg.Dir, cfg.GID); err != nil {
		return nil, err
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, fmt.Errorf("terminal: setpriv (util-linux) is needed: %w", err)
	}
	cmd := exec.Command(setpriv, "--reuid="+strconv.Itoa(int(cfg.UID)), "--regid="+strconv.Itoa(int(cfg.GID)), "--clear-groups",
		"--no-new-privs", "--", "prlimit", "--nproc=256", "--fsize=104857600", "--core=0",
		"--", "/bin/bash", "--noprofile", "--norc", "-i")
	cmd.Dir = cfg.Dir
	// A clean environment: nothing of the server's (database URLs, API keys) reaches the shell.
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + cfg.Dir, "TERM=xterm-256color", "LANG=C.UTF-8",
		`PS1=\W $ `, "HISTFILE=/dev/null"}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: cfg.Cols, Rows: cfg.Rows})
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	s := &Session{pty: f, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			s.code = exit.ExitCode()
		default:
			s.code = -1
		}
		close(s.done)
	}()
	return s, nil
}

// Read reads the shell's output.
func (s *Session) Read(p []byte) (int, error) { return s.pty.Read(p) }

// Write types into the shell.
func (s *Session) Write(p []byte) (int, error) { return s.pty.Write(p) }

// Resize changes the terminal's size.
func (s *Session) Resize(cols, rows uint16) error {
	return pty.Setsize(s.pty, &pty.Winsize{Cols: cols, Rows: rows})
}

// Done is closed when the shell has exited.
func (s *Session) Done() <-chan struct{} { return s.done }

// ExitCode is the shell's exit status once Done is closed.
func (s *Session) ExitCode() int { return s.code }

// Duration is how long the session has lasted.
func (s *Session) Duration() time.Duration { return time.Since(s.started) }

// Close ends the shell and everything it started (its session's process group), and waits
// for it briefly.
func (s *Session) Close() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGHUP)
			_ = s.cmd.Process.Kill()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		_ = s.pty.Close()
	})
}
