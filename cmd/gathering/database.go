package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/pgembed"
	"github.com/gathering/gathering/sql/migrations"
)

// database is an open, migrated database and, when no DATABASE_URL was given, the private
// PostgreSQL server started for it.
type database struct {
	*eventlog.DB
	embedded *pgembed.Server
}

// openDatabase connects to DATABASE_URL, or else to the embedded server in the data directory:
// the one a running `gathering serve` already started, or a new one that Close stops.
func openDatabase(ctx context.Context, c config, log zerolog.Logger) (*database, error) {
	d := &database{}
	url := c.DatabaseURL
	if url == "" {
		if err := prepareDataDir(c.DataDir); err != nil {
			return nil, err
		}
		dir, err := filepath.Abs(filepath.Join(c.DataDir, "pg"))
		if err != nil {
			return nil, err
		}
		if port, ok := runningEmbeddedPort(dir); ok {
			url = fmt.Sprintf("postgres://%s@127.0.0.1:%d/gathering?sslmode=disable", embeddedUser(), port)
			log.Info().Int("port", port).Msg("using the embedded PostgreSQL server already running")
		} else {
			srv, err := pgembed.Start(ctx, pgembed.Config{DataDir: dir, Port: c.EmbeddedPGPort, Database: "gathering", Logger: log})
			if err != nil {
				return nil, fmt.Errorf("no DATABASE_URL and the embedded PostgreSQL did not start: %w", err)
			}
			d.embedded, url = srv, srv.URL()
		}
	}
	db, err := eventlog.Connect(ctx, url, c.DBMaxConns)
	if err != nil {
		d.Close(context.Background())
		return nil, err
	}
	d.DB = db
	applied, err := migrations.Up(ctx, db.SQL)
	if err != nil {
		d.Close(context.Background())
		return nil, err
	}
	if len(applied) > 0 {
		log.Info().Ints64("versions", applied).Msg("migrations applied")
	}
	if err := jobs.Migrate(ctx, db); err != nil {
		d.Close(context.Background())
		return nil, err
	}
	return d, nil
}

// Close closes the pool, then stops the embedded server if this process started it.
func (d *database) Close(ctx context.Context) error {
	if d.DB != nil {
		d.DB.Close()
	}
	if d.embedded != nil {
		return d.embedded.Stop(ctx)
	}
	return nil
}

// runningEmbeddedPort reads the port of a live embedded server from its postmaster.pid (line 4).
func runningEmbeddedPort(dir string) (int, bool) {
	f, err := os.Open(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(lines) < 4 {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if len(lines) < 4 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(lines[0])
	port, err2 := strconv.Atoi(lines[3])
	if err := errors.Join(err1, err2); err != nil || !processAlive(pid) {
		return 0, false
	}
	return port, true
}

func processAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

func embeddedUser() string {
	if os.Geteuid() == 0 {
		return "postgres"
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "postgres"
}

// prepareDataDir creates the data directory so that, when gathering runs as root, the
// unprivileged user PostgreSQL runs as can walk into it (its own pg/ below stays 0700). The
// secrets kept here are files of mode 0600.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if os.Geteuid() == 0 {
		return os.Chmod(dir, 0o755)
	}
	return nil
}
