package projections

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Status is how far a projection has read and how far behind the log it is.
type Status struct {
	Name       string    `json:"name"`
	Position   int64     `json:"position"`
	TxID       int64     `json:"tx"`
	Pending    int64     `json:"pending_events"`
	LagSeconds float64   `json:"lag_seconds"`
	UpdatedAt  time.Time `json:"updated_at"`
	LastError  string    `json:"last_error,omitempty"`
}

// Statuses reports every projection in names (in that order).
func Statuses(ctx context.Context, db dbq.DBTX, names []string, lastError func(string) string) ([]Status, error) {
	q := dbq.New()
	out := make([]Status, 0, len(names))
	for _, name := range names {
		st := Status{Name: name}
		row, err := q.ConsumerOffset(ctx, db, "projection."+name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			st.Position, st.TxID, st.UpdatedAt = row.OffsetAcked, row.TransactionID, row.UpdatedAt.UTC()
		}
		lag, err := q.CountAfter(ctx, db, dbq.CountAfterParams{AfterTx: st.TxID, AfterOffset: st.Position})
		if err != nil {
			return nil, err
		}
		st.Pending, st.LagSeconds = lag.Pending, lag.OldestAgeSeconds
		if lastError != nil {
			st.LastError = lastError(name)
		}
		out = append(out, st)
	}
	return out, nil
}

// Waiter lets a request read its own write: it waits until a projection has passed the cursor
// of the events the request appended.
type Waiter struct {
	db       *sql.DB
	notifier *eventlog.Notifier
	q        *dbq.Queries
}

// NewWaiter returns a waiter on db.
func NewWaiter(db *sql.DB, notifier *eventlog.Notifier) *Waiter {
	return &Waiter{db: db, notifier: notifier, q: dbq.New()}
}

// WaitFor blocks until projection has processed the event at cursor, or ctx ends. The
// projection may run in any instance, so progress is read from its offset row; the wait starts
// at 1 ms and doubles to 20 ms between reads, which answers in a few milliseconds on an idle
// server without hammering a busy one.
func (w *Waiter) WaitFor(ctx context.Context, projection string, cursor eventlog.Cursor) error {
	if cursor.Position == 0 {
		return nil
	}
	var wake <-chan struct{}
	if w.notifier != nil {
		ch, cancel := w.notifier.Subscribe()
		defer cancel()
		wake = ch
	}
	step := time.Millisecond
	for {
		row, err := w.q.ConsumerOffset(ctx, w.db, "projection."+projection)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && !(eventlog.Cursor{TxID: row.TransactionID, Position: row.OffsetAcked}).Less(cursor) {
			return nil
		}
		timer := time.NewTimer(step)
		select {
		case <-ctx.Done():
			timer.Stop()
			return &domain.Error{Code: domain.CodeTimeout, Message: "the read model did not catch up in time; retry the read", Err: ctx.Err()}
		case <-timer.C:
		case <-wake:
			timer.Stop()
		}
		step = min(step*2, 20*time.Millisecond)
	}
}
