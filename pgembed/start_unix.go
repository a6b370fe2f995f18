//go:build unix

package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// identity is the OS user initdb and postgres run as.
type identity struct {
	name string
	uid  uint32
	gid  uint32
	cred *syscall.Credential // nil: run as the current process user
}

// Start initialises the cluster if needed, starts postgres and returns once
// cfg.Database accepts connections. The server keeps running after ctx is
// done; ctx only bounds the startup.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: Config.DataDir is required")
	}
	if cfg.Database == "" {
		cfg.Database = defaultDatabase
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	log := cfg.Logger.With().Str("component", "pgembed").Logger()

	binDir := cfg.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if err := checkBinDir(binDir); err != nil {
		return nil, fmt.Errorf("pgembed: BinDir: %w", err)
	}
	log.Info().Str("bin_dir", binDir).Msg("using PostgreSQL binaries")

	id, err := runAs()
	if err != nil {
		return nil, err
	}

	root, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		binDir:  binDir,
		dataDir: filepath.Join(root, "data"),
		logPath: filepath.Join(root, "postgres.log"),
		user:    id.name,
		exited:  make(chan struct{}),
		log:     log,
	}
	runDir := filepath.Join(root, "run")

	// postgres refuses a data directory readable by others, so 0700 it is,
	// even when the directory was created by someone else beforehand.
	for _, d := range []string{root, s.dataDir, runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("pgembed: %w", err)
		}
	}
	if err := os.Chmod(s.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	logFile, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	// The child processes get their own copy of the descriptor.
	defer logFile.Close()
	if fi, err := logFile.Stat(); err == nil {
		s.logFrom = fi.Size()
	}

	if id.cred != nil {
		if err := chownTree(root, id.uid, id.gid); err != nil {
			return nil, fmt.Errorf("pgembed: handing %s to user %s: %w", root, id.name, err)
		}
		if err := checkTraversable(root, id); err != nil {
			return nil, err
		}
	}

	if err := s.initdbIfEmpty(ctx, id, logFile); err != nil {
		return nil, err
	}
	if err := clearStaleLocks(s.dataDir, runDir, log); err != nil {
		return nil, err
	}
	if fi, err := logFile.Stat(); err == nil {
		s.logFrom = fi.Size() // startup errors should show postgres' words, not initdb's
	}

	s.port = cfg.Port
	if s.port == 0 {
		if s.port, err = freePort(); err != nil {
			return nil, fmt.Errorf("pgembed: picking a port: %w", err)
		}
	}

	s.cmd = exec.Command(filepath.Join(binDir, "postgres"),
		"-D", s.dataDir,
		"-p", strconv.Itoa(s.port),
		"-h", "127.0.0.1",
		"-k", runDir,
	)
	s.cmd.Dir = s.dataDir
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = sysProcAttr(id.cred, true)
	if err := s.startProcess(); err != nil {
		return nil, fmt.Errorf("pgembed: starting postgres: %w", err)
	}
	log.Info().Int("port", s.port).Str("data_dir", s.dataDir).Int("pid", s.cmd.Process.Pid).Msg("PostgreSQL starting")

	if err := s.waitReady(ctx); err != nil {
		s.abort()
		return nil, err
	}
	if err := s.createDatabase(ctx); err != nil {
		s.abort()
		return nil, err
	}
	log.Info().Str("url", s.URL()).Msg("PostgreSQL ready")
	return s, nil
}

// runAs decides who runs the server. postgres refuses to run as root, so a
// root process hands the cluster to the conventional "postgres" account.
func runAs() (identity, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return identity{}, fmt.Errorf("pgembed: current user: %w", err)
		}
		return identity{name: u.Username, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return identity{}, fmt.Errorf("pgembed: running as root, and PostgreSQL refuses to run as root, but there is no 'postgres' user to run it as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return identity{}, fmt.Errorf("pgembed: postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return identity{}, fmt.Errorf("pgembed: postgres gid %q: %w", u.Gid, err)
	}
	return identity{
		name: "postgres",
		uid:  uint32(uid),
		gid:  uint32(gid),
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
	}, nil
}

func (s *Server) initdbIfEmpty(ctx context.Context, id identity, logFile *os.File) error {
	if _, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if len(entries) > 0 {
		// Never initdb over files we did not create: that could be a
		// half-deleted cluster someone still wants back.
		return fmt.Errorf("pgembed: %s is not empty but holds no PostgreSQL cluster (no PG_VERSION); empty or remove it", s.dataDir)
	}
	s.log.Info().Str("data_dir", s.dataDir).Msg("initializing new PostgreSQL cluster")

	// C.UTF-8 sorts and classifies Unicode sensibly, but not every libc
	// ships it (older glibc, macOS), so fall back to plain C.
	var lastErr error
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"),
			"-D", s.dataDir,
			"-U", id.name,
			"--auth=trust",
			"--encoding=UTF8",
			"--locale="+locale,
		)
		cmd.Dir = s.dataDir
		cmd.Stdout = logFile
		cmd.Stderr = logFile
		cmd.SysProcAttr = sysProcAttr(id.cred, false)
		if lastErr = cmd.Run(); lastErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		if err := emptyDir(s.dataDir); err != nil {
			return fmt.Errorf("pgembed: cleaning up after failed initdb: %w", err)
		}
	}
	return withLogTail(fmt.Errorf("pgembed: initdb failed: %w", lastErr), s.logPath, s.logFrom)
}

// startProcess starts postgres from a goroutine that stays locked to its OS
// thread until the process exits: on Linux the parent-death signal fires
// when the creating *thread* dies, and an unlocked thread may be retired by
// the Go runtime while the server is still wanted.
func (s *Server) startProcess() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return <-started
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(s.cfg.StartTimeout)
	defer deadline.Stop()
	for {
		if err := s.ping(ctx); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return withLogTail(fmt.Errorf("pgembed: postgres exited during startup (%v)", s.waitErr), s.logPath, s.logFrom)
		case <-ctx.Done():
			return fmt.Errorf("pgembed: waiting for postgres: %w", ctx.Err())
		case <-deadline.C:
			return withLogTail(fmt.Errorf("pgembed: postgres did not accept connections within %s", s.cfg.StartTimeout), s.logPath, s.logFrom)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (s *Server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: connecting to create database: %w", err)
	}
	defer conn.Close(context.Background())

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.cfg.Database).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: checking for database %q: %w", s.cfg.Database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.cfg.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: someone beat us to it
		err = nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: creating database %q: %w", s.cfg.Database, err)
	}
	s.log.Info().Str("database", s.cfg.Database).Msg("created database")
	return nil
}

// abort tears down a server that failed to become usable during Start.
func (s *Server) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Stop(ctx)
}

// Stop asks postgres for a fast shutdown (roll back open transactions,
// disconnect clients, checkpoint) and waits for the postmaster to exit. If
// ctx ends first it escalates to an immediate shutdown and then SIGKILL, so
// that no server is left behind holding the data directory. Calling Stop on
// an already stopped (or crashed) server returns nil.
func (s *Server) Stop(ctx context.Context) error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	select {
	case <-s.exited:
		return nil
	default:
	}

	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgembed: signalling postgres: %w", err)
	}
	select {
	case <-s.exited:
		s.log.Info().Int("port", s.port).Msg("PostgreSQL stopped")
		return nil
	case <-ctx.Done():
	}

	// Immediate shutdown skips the checkpoint; WAL replay on next start
	// makes up for it.
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.log.Warn().Int("port", s.port).Msg("PostgreSQL did not shut down in time and was stopped forcibly")
	return fmt.Errorf("pgembed: fast shutdown did not finish: %w", ctx.Err())
}

// clearStaleLocks removes lock files left by a postmaster that is gone (a
// crash, SIGKILL or reboot). postgres only ignores them itself when the pid
// is dead; after a reboot the pid is often reused by an unrelated process,
// which would make postgres refuse to start.
func clearStaleLocks(dataDir, runDir string, log zerolog.Logger) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	if pid, ok := readLockPID(pidFile); ok {
		if isOurPostmaster(pid, dataDir) {
			return fmt.Errorf("pgembed: a PostgreSQL server (pid %d) from a previous run is still running on %s; stop it first (kill -INT %d)", pid, dataDir, pid)
		}
	}
	if _, err := os.Stat(pidFile); err == nil {
		if err := os.Remove(pidFile); err != nil {
			return fmt.Errorf("pgembed: removing stale %s: %w", pidFile, err)
		}
		log.Warn().Str("file", pidFile).Msg("removed stale postmaster.pid left by a previous run")
	}

	locks, _ := filepath.Glob(filepath.Join(runDir, ".s.PGSQL.*.lock"))
	for _, lock := range locks {
		if pid, ok := readLockPID(lock); ok && processAlive(pid) && !isOurPostmaster(pid, dataDir) {
			// Alive and not ours: some other live server uses this socket
			// directory (and so this port); postgres will report that.
			continue
		}
		_ = os.Remove(lock)
		_ = os.Remove(strings.TrimSuffix(lock, ".lock"))
	}
	return nil
}

// readLockPID reads the pid from the first line of a postgres lock file.
func readLockPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isOurPostmaster reports whether pid is alive and looks like a postmaster
// serving dataDir. Where /proc cannot tell (other OS, no permission) a live
// pid is assumed to be one, since starting a second server on the same
// cluster is far worse than an unnecessary error.
func isOurPostmaster(pid int, dataDir string) bool {
	if !processAlive(pid) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return true
	}
	if strings.TrimSpace(string(comm)) != "postgres" {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return true
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	return filepath.Clean(cwd) == filepath.Clean(want)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func chownTree(root string, uid, gid uint32) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
}

// checkTraversable fails early, with a useful message, when the postgres
// user cannot reach dir, e.g. a data directory under root's 0700 home. The
// alternative is an obscure "permission denied" from initdb or postgres.
func checkTraversable(dir string, id identity) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		perm := fi.Mode().Perm()
		ok := perm&0o001 != 0
		if st, isStat := fi.Sys().(*syscall.Stat_t); isStat {
			switch {
			case st.Uid == id.uid:
				ok = perm&0o100 != 0
			case st.Gid == id.gid:
				ok = perm&0o010 != 0
			}
		}
		if !ok {
			return fmt.Errorf("pgembed: PostgreSQL runs as user %q (it refuses to run as root) but that user cannot enter %s (mode %v); use a data directory elsewhere or allow it with `chmod o+x %s`", id.name, d, perm, d)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
