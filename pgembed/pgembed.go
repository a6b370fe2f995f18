// Package pgembed runs a private PostgreSQL server from the PostgreSQL
// binaries installed on the machine. It exists so that `gathering serve`
// works out of the box for development and small installs without an
// externally managed database: when no DATABASE_URL is configured, the
// server creates (once) and starts its own cluster under a data directory.
//
// The cluster uses "trust" authentication and listens only on 127.0.0.1
// and on a unix socket in a 0700 directory. Anyone with a shell on the
// machine can therefore connect over TCP as superuser; it is meant for
// single-user machines, not as a hardened production database.
package pgembed

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Config describes where and how the private server runs.
type Config struct {
	// DataDir holds everything the server owns: the cluster in DataDir/data,
	// sockets in DataDir/run and the server log in DataDir/postgres.log.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Database is created if missing; default "gathering".
	Database string
	// BinDir holds initdb and postgres; "" means FindBinDir.
	BinDir string
	// StartTimeout bounds how long Start waits for the server to accept
	// connections; default 30s.
	StartTimeout time.Duration
	// Logger receives a few lines about what the server does.
	Logger zerolog.Logger
}

const (
	defaultDatabase     = "gathering"
	defaultStartTimeout = 30 * time.Second
)

// Server is a running private PostgreSQL server.
type Server struct {
	cfg     Config
	binDir  string
	dataDir string // absolute DataDir/data
	logPath string
	logFrom int64  // where this start's postgres output begins in the log
	user    string // database superuser name
	port    int

	cmd     *exec.Cmd
	exited  chan struct{} // closed once the postmaster has been reaped
	waitErr error         // valid after exited is closed

	stopMu sync.Mutex
	log    zerolog.Logger
}

// URL returns a connection URL for the configured database.
func (s *Server) URL() string {
	return s.urlFor(s.cfg.Database)
}

func (s *Server) urlFor(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(s.user),
		Host:     fmt.Sprintf("127.0.0.1:%d", s.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Done is closed when the postmaster process has exited, whether through
// Stop or unexpectedly, so callers can notice the database going away.
func (s *Server) Done() <-chan struct{} { return s.exited }

// FindBinDir locates a directory containing initdb and postgres:
// $PG_BIN_DIR if set, else the newest /usr/lib/postgresql/*/bin (Debian and
// Ubuntu keep server binaries there, off PATH), else the directory of
// initdb on PATH.
func FindBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN_DIR"); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("pgembed: PG_BIN_DIR: %w", err)
		}
		return dir, nil
	}

	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(candidates, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(candidates[j])), filepath.Base(filepath.Dir(candidates[i])))
	})
	for _, dir := range candidates {
		if checkBinDir(dir) == nil {
			return dir, nil
		}
	}

	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if err := checkBinDir(dir); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgembed: no PostgreSQL server binaries found (set PG_BIN_DIR, or install the postgresql package; scripts/ensure-postgres.sh does that)")
}

func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", p)
		}
	}
	return nil
}

// versionLess compares directory names like "9.6", "15" and "16" numerically,
// so that "9.6" < "15" (a plain string sort would get that wrong).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return a < b
}

// logTail returns the last lines of the server log, to put in errors: the
// reason postgres refused to start is only ever written there.
func logTail(path string, from int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxBytes = 8 << 10
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-maxBytes, from, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
	if off > from && len(lines) > 1 {
		lines = lines[1:] // first line is probably cut in half
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// withLogTail appends what was logged after offset from, so that output of
// earlier runs in the same file does not pass for the current reason.
func withLogTail(err error, path string, from int64) error {
	tail := logTail(path, from, 20)
	if tail == "" {
		return err
	}
	return fmt.Errorf("%w\n--- tail of %s ---\n%s", err, path, tail)
}
