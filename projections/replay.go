package projections

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// ReplayResult describes a finished rebuild.
type ReplayResult struct {
	Projection string          `json:"projection"`
	Events     int64           `json:"events"`
	Cursor     eventlog.Cursor `json:"cursor"`
	Checksum   Checksum        `json:"checksum"`
}

const replayPage = 1000

// Replay rebuilds a projection's read model from position zero into fresh tables and swaps them
// in, while the live projection keeps serving the old ones.
//
// The fresh tables are clones (CREATE TABLE ... LIKE ... INCLUDING ALL) in a scratch schema put
// first on search_path, so the projection's own unqualified queries write there. The swap takes
// the projection's offset row lock (the live consumer holds it while it handles a batch, so the
// two never interleave), applies whatever was appended since, replaces the tables and moves the
// consumer group's offset to where the rebuild ended, all in one transaction.
func Replay(ctx context.Context, store *eventlog.Store, p Projection) (ReplayResult, error) {
	db := store.DB()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	scratch := "replay_" + p.Name() + "_" + hex.EncodeToString(suffix[:])
	res := ReplayResult{Projection: p.Name()}

	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+scratch); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	swapped := false
	defer func() {
		if !swapped {
			_, _ = db.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+scratch+" CASCADE")
		}
	}()
	for _, t := range p.Tables() {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s.%s (LIKE public.%s INCLUDING ALL)", scratch, t, t)); err != nil {
			return res, fmt.Errorf("replay: clone %s: %w", t, err)
		}
	}

	// Bulk of the history, one transaction per page so a long log does not hold one open.
	cursor := eventlog.Cursor{}
	for {
		n, next, err := replayPageInto(ctx, store, p, scratch, cursor, nil)
		if err != nil {
			return res, err
		}
		res.Events += n
		cursor = next
		if n < replayPage {
			break
		}
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	q := dbq.New()
	group := Group(p)
	if _, err := tx.ExecContext(ctx, `INSERT INTO eventlog.consumer_offsets (consumer_group) VALUES ($1) ON CONFLICT DO NOTHING`, group); err != nil {
		return res, err
	}
	if _, err := q.LockConsumerOffset(ctx, tx, group); err != nil {
		return res, fmt.Errorf("replay: lock %s: %w", group, err)
	}
	for {
		n, next, err := replayPageInto(ctx, store, p, scratch, cursor, tx)
		if err != nil {
			return res, err
		}
		res.Events += n
		cursor = next
		if n < replayPage {
			break
		}
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL search_path TO "+scratch+", public"); err != nil {
		return res, err
	}
	if res.Checksum, err = p.Checksum(ctx, tx); err != nil {
		return res, fmt.Errorf("replay: checksum: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL search_path TO public"); err != nil {
		return res, err
	}
	for _, t := range p.Tables() {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("DROP TABLE public.%s", t)); err != nil {
			return res, fmt.Errorf("replay: drop old %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s.%s SET SCHEMA public", scratch, t)); err != nil {
			return res, fmt.Errorf("replay: swap in %s: %w", t, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP SCHEMA "+scratch); err != nil {
		return res, err
	}
	if err := q.SetConsumerOffset(ctx, tx, dbq.SetConsumerOffsetParams{ConsumerGroup: group, OffsetAcked: cursor.Position,
		TransactionID: cursor.TxID}); err != nil {
		return res, err
	}
	if err := q.SetProjectionApplied(ctx, tx, dbq.SetProjectionAppliedParams{Projection: p.Name(), TransactionID: cursor.TxID,
		Position: cursor.Position}); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("replay: swap: %w", err)
	}
	swapped = true
	res.Cursor = cursor
	return res, nil
}

// replayPageInto applies up to replayPage events after cursor to the scratch tables, in tx or, if
// tx is nil, in a transaction of its own.
func replayPageInto(ctx context.Context, store *eventlog.Store, p Projection, scratch string, cursor eventlog.Cursor, tx *sql.Tx) (int64, eventlog.Cursor, error) {
	own := tx == nil
	if own {
		var err error
		if tx, err = store.DB().BeginTx(ctx, nil); err != nil {
			return 0, cursor, err
		}
		defer func() { _ = tx.Rollback() }()
	}
	// Read the log with the normal path, then point unqualified names at the scratch tables.
	events, err := store.ReadAfter(ctx, tx, cursor, eventlog.Filter{}, replayPage)
	if err != nil {
		return 0, cursor, err
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL search_path TO "+scratch+", public"); err != nil {
		return 0, cursor, err
	}
	for _, e := range events {
		if err := p.Apply(ctx, tx, e); err != nil {
			return 0, cursor, fmt.Errorf("replay %s: position %d (%s): %w", p.Name(), e.Position, e.Type, err)
		}
		cursor = e.Cursor()
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL search_path TO public"); err != nil {
		return 0, cursor, err
	}
	if own {
		if err := tx.Commit(); err != nil {
			return 0, cursor, err
		}
	}
	return int64(len(events)), cursor, nil
}

// LiveChecksum digests the read model the projection serves now.
func LiveChecksum(ctx context.Context, db dbq.DBTX, p Projection) (Checksum, error) {
	return p.Checksum(ctx, db)
}
