// Package jobs runs long work — model calls, agent steps — as leased jobs outside any database
// transaction, on River (riverqueue/river): a PostgreSQL job queue with leases, retries and
// rescue of jobs whose worker died. Jobs are inserted in the same transaction as the events that
// ask for them, so a request that committed always gets its work done, exactly as recorded.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/gathering/gathering/eventlog"
)

// Client is the River client of the process, on the shared pool.
type Client = river.Client[*sql.Tx]

// Inserter enqueues a job inside a caller's transaction.
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

func driver(db *eventlog.DB) *riverdatabasesql.Driver {
	// database/sql for inserts inside the command transactions; pgx for River's own LISTEN.
	return riverdatabasesql.NewWithPgxListener(db.SQL, db.Pool)
}

// Migrate brings River's tables up to date. River owns its schema and its migrator; ours is
// applied by goose, River's by rivermigrate, both at the same moments (migrate and serve).
func Migrate(ctx context.Context, db *eventlog.DB) error {
	m, err := rivermigrate.New(driver(db), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// Options size the worker pool.
type Options struct {
	MaxWorkers int
	// RescueAfter is how long a running job may go silent before another instance takes it
	// over (its worker died); it must exceed the longest job.
	RescueAfter time.Duration
}

// New returns a client that works the jobs registered in workers.
func New(db *eventlog.DB, workers *river.Workers, o Options) (*Client, error) {
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 8
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = 10 * time.Minute
	}
	return river.NewClient(driver(db), &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.MaxWorkers}},
		Workers:              workers,
		RescueStuckJobsAfter: o.RescueAfter,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    500 * time.Millisecond,
		Logger:               slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}
