// Package projections builds the read models from the log. Each projection is a watermill-sql
// consumer group; its handler writes the read model inside the subscriber's own transaction,
// the one that also advances the group's offset, so every event takes effect exactly once even
// if the process dies between the write and the ack.
package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	wmsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/wmlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Projection turns events into read-model rows.
type Projection interface {
	// Name identifies the projection; its consumer group is "projection.<name>".
	Name() string
	// Tables are the read-model tables it owns (in the public schema); a replay rebuilds
	// exactly these.
	Tables() []string
	// Apply writes the effect of one event using q, which is the subscriber's transaction.
	// It must not call the network: it holds the transaction and so the log's xmin horizon.
	Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error
	// Checksum digests the read model's content; equal content gives equal checksums.
	Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error)
}

// Checksum identifies the content of a read model.
type Checksum struct {
	Rows int64  `json:"rows"`
	Sum  string `json:"checksum"`
}

// Group is the consumer group of a projection.
func Group(p Projection) string { return "projection." + p.Name() }

// Runner runs projections as consumers of the log.
type Runner struct {
	db       *sql.DB
	store    *eventlog.Store
	notifier *eventlog.Notifier
	logger   zerolog.Logger
	router   *message.Router
	subs     []*eventlog.Subscriber
	names    []string

	mu        sync.Mutex
	lastError map[string]string
	applied   *sync.Cond

	// beforeAck, if set, runs after an event's effect is written and before it is acked; tests
	// use it to kill the consumer at the worst moment.
	beforeAck func(ctx context.Context, tx *sql.Tx, projection string, e eventlog.Event) error
	q         *dbq.Queries
}

// NewRunner prepares a runner for projections.
func NewRunner(store *eventlog.Store, notifier *eventlog.Notifier, logger zerolog.Logger, ps ...Projection) (*Runner, error) {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wmlog.New(logger))
	if err != nil {
		return nil, err
	}
	r := &Runner{db: store.DB(), store: store, notifier: notifier, logger: logger, router: router, lastError: map[string]string{}, q: dbq.New()}
	r.applied = sync.NewCond(&r.mu)
	for _, p := range ps {
		sub, err := store.NewSubscriber(store.DB(), Group(p), notifier, eventlog.SubscriberOptions{Logger: wmlog.New(logger)})
		if err != nil {
			return nil, err
		}
		r.subs = append(r.subs, sub)
		r.names = append(r.names, p.Name())
		router.AddNoPublisherHandler(Group(p), eventlog.Topic, sub, r.handler(p))
	}
	return r, nil
}

func (r *Runner) handler(p Projection) message.NoPublishHandlerFunc {
	name := p.Name()
	log := r.logger.With().Str("projection", name).Logger()
	return func(msg *message.Message) error {
		ctx := msg.Context()
		tx, ok := wmsql.TxFromContext(ctx)
		if !ok {
			return errors.New("projections: message has no subscriber transaction")
		}
		e, err := eventlog.FromMessage(msg)
		if err != nil {
			return err
		}
		// A savepoint per event: a failed statement would otherwise abort the whole batch's
		// transaction, and the redelivered event could never succeed inside it.
		if _, err := tx.ExecContext(ctx, "SAVEPOINT projection_event"); err != nil {
			return err
		}
		// The guard row commits with the effect; an event whose effect already committed (see
		// 00009_projection_applied.sql) is acked without applying it again.
		claimed, err := r.q.ClaimProjectionEvent(ctx, tx, dbq.ClaimProjectionEventParams{Projection: name, TransactionID: e.TxID, Position: e.Position})
		if err != nil {
			_, _ = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT projection_event")
			return err
		}
		if claimed == 0 {
			_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT projection_event")
			return err
		}
		if err := p.Apply(ctx, tx, e); err != nil {
			_, _ = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT projection_event")
			log.Error().Err(err).Int64("position", e.Position).Str("event_type", e.Type).Msg("projection failed to apply event; retrying")
			r.setError(name, fmt.Sprintf("position %d (%s): %v", e.Position, e.Type, err))
			return err
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT projection_event"); err != nil {
			return err
		}
		if r.beforeAck != nil {
			if err := r.beforeAck(ctx, tx, name, e); err != nil {
				return err
			}
		}
		r.setError(name, "")
		return nil
	}
}

func (r *Runner) setError(name, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg == "" {
		delete(r.lastError, name)
	} else {
		r.lastError[name] = msg
	}
}

// Run starts every projection and returns once they are consuming.
func (r *Runner) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- r.router.Run(ctx) }()
	select {
	case <-r.router.Running():
		return nil
	case err := <-errc:
		return err
	}
}

// Close stops the projections after the event each is handling; its batch commits or rolls
// back as a whole, so nothing is half applied.
func (r *Runner) Close() error {
	var errs []error
	for _, s := range r.subs {
		errs = append(errs, s.Close())
	}
	errs = append(errs, r.router.Close())
	return errors.Join(errs...)
}

// Names lists the projections the runner runs.
func (r *Runner) Names() []string { return append([]string(nil), r.names...) }

// LastError is the last failure of a projection that has not yet been overcome.
func (r *Runner) LastError(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastError[name]
}
