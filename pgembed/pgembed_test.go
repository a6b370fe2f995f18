//go:build unix

package pgembed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// testDataDir returns a not yet existing DataDir inside t.TempDir(). As
// root the server runs as "postgres", which must be able to walk into the
// root-owned 0700 directories the testing package creates.
func testDataDir(t *testing.T) string {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		t.Fatalf("no PostgreSQL binaries (scripts/ensure-postgres.sh installs them): %v", err)
	}
	base := t.TempDir()
	if os.Geteuid() == 0 {
		stop := filepath.Clean(os.TempDir())
		for d := base; d != stop && d != filepath.Dir(d); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(base, "pg")
}

func testConfig(t *testing.T, dataDir string) Config {
	return Config{
		DataDir: dataDir,
		Logger:  zerolog.New(zerolog.NewTestWriter(t)),
	}
}

func mustStart(t *testing.T, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stop(t, s) })
	return s
}

func stop(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func connect(t *testing.T, s *Server) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("connect %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func wantSuperuser() string {
	if os.Geteuid() == 0 {
		return "postgres"
	}
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitGroupGone waits until no process is left in the server's process
// group, i.e. the backends noticed their postmaster died.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("processes of group %d still alive", pgid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartQueryStop(t *testing.T) {
	t.Parallel()
	s := mustStart(t, testConfig(t, testDataDir(t)))

	want := fmt.Sprintf("postgres://%s@127.0.0.1:%d/gathering?sslmode=disable", wantSuperuser(), s.Port())
	if s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}

	conn := connect(t, s)
	var db, usr, enc string
	var super bool
	err := conn.QueryRow(context.Background(),
		"SELECT current_database(), current_user, pg_encoding_to_char(encoding), rolsuper FROM pg_database, pg_roles WHERE datname = current_database() AND rolname = current_user").
		Scan(&db, &usr, &enc, &super)
	if err != nil {
		t.Fatal(err)
	}
	if db != "gathering" || enc != "UTF8" || !super {
		t.Errorf("got db=%q encoding=%q superuser=%v", db, enc, super)
	}
	if usr != wantSuperuser() {
		t.Errorf("superuser = %q, want %q", usr, wantSuperuser())
	}
	var addr string
	if err := conn.QueryRow(context.Background(), "SHOW listen_addresses").Scan(&addr); err != nil || addr != "127.0.0.1" {
		t.Errorf("listen_addresses = %q (%v)", addr, err)
	}
	conn.Close(context.Background())

	pid := s.cmd.Process.Pid
	stop(t, s)
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postmaster %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("backends of %d still exist after Stop (kill 0: %v)", pid, err)
	}
	if portOpen(s.Port()) {
		t.Errorf("port %d still accepts connections after Stop", s.Port())
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testDataDir(t))
	cfg.Database = "keep me"

	s := mustStart(t, cfg)
	conn := connect(t, s)
	mustExec(t, conn, "CREATE TABLE kept (v text)")
	mustExec(t, conn, "INSERT INTO kept VALUES ('hello')")
	conn.Close(context.Background())
	stop(t, s)

	s = mustStart(t, cfg)
	var v string
	if err := connect(t, s).QueryRow(context.Background(), "SELECT v FROM kept").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("after restart: v=%q err=%v", v, err)
	}
}

func TestStaleLockFromCrash(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testDataDir(t))
	s := mustStart(t, cfg)
	conn := connect(t, s)
	mustExec(t, conn, "CREATE TABLE survived (v int)")
	mustExec(t, conn, "INSERT INTO survived VALUES (42)")
	conn.Close(context.Background())

	pid := s.cmd.Process.Pid
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
	waitGroupGone(t, pid)
	pidFile := filepath.Join(cfg.DataDir, "data", "postmaster.pid")
	if got, ok := readLockPID(pidFile); !ok || got != pid {
		t.Fatalf("expected a leftover postmaster.pid with pid %d, got %d %v", pid, got, ok)
	}

	s = mustStart(t, cfg)
	var v int
	if err := connect(t, s).QueryRow(context.Background(), "SELECT v FROM survived").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after crash restart: v=%d err=%v", v, err)
	}
}

// After a reboot the pid in a leftover postmaster.pid may belong to an
// unrelated live process; postgres alone would refuse to start then.
func TestStaleLockWithReusedPID(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testDataDir(t))
	s := mustStart(t, cfg)
	pidFile := filepath.Join(cfg.DataDir, "data", "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	stop(t, s)

	_, rest, _ := strings.Cut(string(content), "\n")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
	mustStart(t, cfg)
}

func TestSecondStartFailsWhileRunning(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testDataDir(t))
	first := mustStart(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second, err := Start(ctx, cfg)
	if err == nil {
		stop(t, second)
		t.Fatal("second Start on a running DataDir succeeded")
	}
	if !strings.Contains(err.Error(), "still running") {
		t.Errorf("unclear error: %v", err)
	}
	if !portOpen(first.Port()) {
		t.Error("first server was disturbed by the failed second Start")
	}
}

func TestStartupFailureShowsLog(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	cfg := testConfig(t, testDataDir(t))
	cfg.Port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err == nil {
		stop(t, s)
		t.Fatal("Start succeeded on a port that is in use")
	}
	if !strings.Contains(err.Error(), "exited during startup") || !strings.Contains(err.Error(), "could not") {
		t.Errorf("error lacks the reason from the log: %v", err)
	}
	t.Logf("error as reported:\n%v", err)
}

func TestFindBinDir(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Fatalf("no PostgreSQL binaries (scripts/ensure-postgres.sh installs them): %v", err)
	}
	if err := checkBinDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PG_BIN_DIR", t.TempDir())
	if _, err := FindBinDir(); err == nil {
		t.Error("PG_BIN_DIR without binaries accepted")
	}
}

func TestVersionLess(t *testing.T) {
	if !versionLess("9.6", "15") || versionLess("16", "15") || !versionLess("15", "16") {
		t.Error("versionLess orders PostgreSQL major versions wrongly")
	}
}

// processGone treats zombies as gone: a container's pid 1 may never reap
// the orphan.
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}
