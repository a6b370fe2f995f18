// Package pglite starts PGlite — PostgreSQL compiled to WebAssembly, run by node — with the
// pgvector extension, behind pglite-socket's PostgreSQL wire-protocol server on 127.0.0.1, for
// tests that need a PostgreSQL with pgvector where the machine's server has none.
//
// The npm packages are pinned in package.json and package-lock.json beside this file;
// scripts/ensure-npm.sh installs them (npm ci) when node_modules is missing or stale. Node 20
// or newer is required: without it the test fails (CI has node) and says how to install it.
//
// PGlite is one in-memory database that serves one connection at a time: open it with Open
// (a *sql.DB limited to one connection). Each Start is a fresh, empty database.
package pglite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// StartTimeout bounds how long the server may take to accept connections.
const StartTimeout = 2 * time.Minute

// Server is a running PGlite.
type Server struct {
	DSN             string
	Addr            string        // host:port
	PostgresVersion string        // e.g. "18.6"
	VectorVersion   string        // pgvector's version, e.g. "0.8.7"
	Startup         time.Duration // from starting node to accepting connections
}

// Start runs a fresh PGlite server for the test and returns its connection string; the server
// is stopped when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).DSN
}

// StartServer is Start with what is known about the server.
func StartServer(t testing.TB) *Server {
	t.Helper()
	dir := harnessDir()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("pglite: node is not installed; the PGlite tests need node 20 or newer and npm "+
			"(Debian: apt-get install nodejs npm; then scripts/ensure-npm.sh): %v", err)
	}
	ensure := exec.Command("bash", filepath.Join(dir, "..", "..", "scripts", "ensure-npm.sh"))
	var ensureOut bytes.Buffer
	ensure.Stdout, ensure.Stderr = &ensureOut, &ensureOut
	if err := ensure.Run(); err != nil {
		t.Fatalf("pglite: scripts/ensure-npm.sh failed (it runs npm ci in internal/pglite): %v\n%s", err, ensureOut.String())
	}

	began := time.Now()
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "PGLITE_HOST=127.0.0.1", "PGLITE_PORT=0")
	stdin, err := cmd.StdinPipe() // the server exits when this closes, even if the test process dies
	if err != nil {
		t.Fatalf("pglite: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("pglite: %v", err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("pglite: start node: %v", err)
	}
	exited := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "PGLITE READY ") {
				select {
				case ready <- strings.TrimPrefix(line, "PGLITE READY "):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	stop := func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	var line string
	select {
	case line = <-ready:
	case err := <-exited:
		t.Fatalf("pglite: the server exited before accepting connections: %v\n%s", err, stderr.String())
	case <-time.After(StartTimeout):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("pglite: the server did not accept connections within %v\n%s", StartTimeout, stderr.String())
	}
	t.Cleanup(stop)
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("pglite: unexpected ready line %q", line)
	}
	s := &Server{Addr: f[0], PostgresVersion: f[1], VectorVersion: f[2], Startup: time.Since(began)}
	// pglite-socket speaks the extended protocol, so pgx's default (cached prepared statements)
	// works; sslmode=disable because it has no TLS.
	s.DSN = "postgres://postgres@" + s.Addr + "/postgres?sslmode=disable&connect_timeout=10"
	return s
}

// Open connects to a PGlite server with database/sql (pgx) and one connection at most: PGlite
// runs one statement at a time, and one connection keeps a transaction's statements together.
// The handle is closed when the test ends.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("pglite: %v", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		t.Fatalf("pglite: connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// harnessDir is the directory of this file, where server.mjs and node_modules are.
func harnessDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("pglite: cannot locate the harness directory")
	}
	return filepath.Dir(file)
}

// syncBuffer collects the server's stderr for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
