package eventlog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/sql/dbq"
)

// ErrVersionConflict is returned when another writer appended to the stream first.
var ErrVersionConflict = &domain.Error{Code: domain.CodeVersionConflict, Message: "the stream was changed by someone else; reload and retry"}

// Store appends to and reads from the log.
type Store struct {
	db       *sql.DB
	q        *dbq.Queries
	schema   *Schema
	upcaster Upcaster
	logger   watermill.LoggerAdapter
	// Now is the clock; tests replace it. Times are truncated to microseconds, the resolution
	// PostgreSQL stores, so a hash computed before the insert matches the row read back.
	Now func() time.Time
}

// NewStore returns a store on db. upcaster may be nil when payloads are never upcast.
func NewStore(db *sql.DB, upcaster Upcaster) *Store {
	if db == nil {
		panic("eventlog: nil db")
	}
	return &Store{db: db, q: dbq.New(), schema: &Schema{Upcaster: upcaster}, upcaster: upcaster,
		logger: watermill.NopLogger{}, Now: time.Now}
}

// DB returns the database the store works on.
func (s *Store) DB() *sql.DB { return s.db }

// Schema returns the watermill-sql schema adapter of the log, for subscribers.
func (s *Store) Schema() *Schema { return s.schema }

// Append writes events to the end of a stream inside tx. head is the stream's end as the caller
// loaded it; if anyone appended since, the unique (stream, version) constraint makes the insert
// fail and Append returns ErrVersionConflict (tx is then aborted and must be rolled back).
// The events go through a watermill-sql publisher bound to tx, so they become visible to every
// consumer exactly when tx commits. After the commit the caller announces it (Announcer), which
// wakes the consumers at once.
func (s *Store) Append(ctx context.Context, tx *sql.Tx, streamID, streamType string, head Head, events []NewEvent, meta Metadata) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if streamID == "" || streamType == "" {
		return nil, errors.New("eventlog: stream id and type are required")
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("eventlog: metadata: %w", err)
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	prev := head.Hash
	if len(prev) == 0 {
		prev = genesisHash
	}
	out := make([]Event, len(events))
	msgs := make(message.Messages, len(events))
	for i, ne := range events {
		if ne.Type == "" || ne.SchemaVersion < 1 || !json.Valid(ne.Payload) {
			return nil, fmt.Errorf("eventlog: event %d: type, schema version and a JSON payload are required", i)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		e := Event{ID: id, StreamID: streamID, StreamType: streamType, Version: head.Version + int64(i) + 1,
			Type: ne.Type, SchemaVersion: ne.SchemaVersion, Payload: ne.Payload, Metadata: meta, OccurredAt: now, PrevHash: prev}
		e.Hash = chainHash(prev, &e, metaJSON)
		prev = e.Hash
		out[i] = e
		msgs[i] = outboxMessage(&e, metaJSON)
	}
	// A publisher per transaction is how watermill-sql v3 writes inside a caller's transaction.
	rt := &returningTx{Tx: tx, ctx: ctx}
	pub, err := wmsql.NewPublisher(rt, wmsql.PublisherConfig{SchemaAdapter: s.schema}, s.logger)
	if err != nil {
		return nil, err
	}
	if err := pub.Publish(Topic, msgs...); err != nil {
		if isUniqueViolation(err, "events_stream_version_key") {
			return nil, ErrVersionConflict
		}
		return nil, fmt.Errorf("eventlog: append to %s: %w", streamID, err)
	}
	if len(rt.positions) != len(out) {
		return nil, fmt.Errorf("eventlog: appended %d events but got %d positions back", len(out), len(rt.positions))
	}
	for i := range out {
		p, ok := rt.positions[out[i].Version]
		if !ok {
			return nil, fmt.Errorf("eventlog: no position returned for version %d", out[i].Version)
		}
		out[i].Position, out[i].TxID = p.offset, p.txID
	}
	return out, nil
}

// returningTx is the transaction the watermill publisher writes through. The publisher only
// executes its insert; running it as a query instead collects the RETURNING rows (position and
// transaction id of every event), which saves the extra round trip a separate SELECT cost inside
// the appending transaction (docs/benchmarks.md).
type returningTx struct {
	*sql.Tx
	ctx       context.Context
	positions map[int64]appended
}

type appended struct{ offset, txID int64 }

func (r *returningTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	// The publisher passes context.Background(); the caller's context is the one to honour.
	rows, err := r.Tx.QueryContext(r.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r.positions = map[int64]appended{}
	for rows.Next() {
		var version int64
		var a appended
		if err := rows.Scan(&a.offset, &version, &a.txID); err != nil {
			return nil, err
		}
		r.positions[version] = a
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return driver.RowsAffected(len(r.positions)), nil
}

// Load reads a whole stream in version order, payloads upcast to their current schema.
func (s *Store) Load(ctx context.Context, q dbq.DBTX, streamID string) ([]Event, Head, error) {
	rows, err := s.q.LoadStream(ctx, q, dbq.LoadStreamParams{StreamID: streamID, AfterVersion: 0})
	if err != nil {
		return nil, Head{}, fmt.Errorf("eventlog: load %s: %w", streamID, err)
	}
	events := make([]Event, 0, len(rows))
	for _, r := range rows {
		e, err := s.fromRow(r)
		if err != nil {
			return nil, Head{}, err
		}
		events = append(events, e)
	}
	head := Head{}
	if n := len(rows); n > 0 {
		head = Head{Version: rows[n-1].StreamVersion, Hash: rows[n-1].Hash}
	}
	return events, head, nil
}

// StreamHead returns where a stream ends without reading it.
func (s *Store) StreamHead(ctx context.Context, q dbq.DBTX, streamID string) (Head, error) {
	r, err := s.q.StreamHead(ctx, q, streamID)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("eventlog: head of %s: %w", streamID, err)
	}
	return Head{Version: r.StreamVersion, Hash: r.Hash}, nil
}

// Filter narrows a read of the global log; empty fields match everything.
type Filter struct {
	StreamID   string
	StreamType string
	EventType  string
	// Before, when set, makes ReadLatest start below this cursor (paging back through the log).
	Before *Cursor
}

// ReadAfter returns up to limit committed events after cursor in gap-safe global order.
func (s *Store) ReadAfter(ctx context.Context, q dbq.DBTX, after Cursor, f Filter, limit int) ([]Event, error) {
	rows, err := s.q.ReadAfter(ctx, q, dbq.ReadAfterParams{AfterTx: after.TxID, AfterOffset: after.Position,
		StreamID: nullString(f.StreamID), StreamType: nullString(f.StreamType), EventType: nullString(f.EventType),
		MaxRows: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("eventlog: read after %v: %w", after, err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		e, err := s.fromRow(dbq.LoadStreamRow(r))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ReadLatest returns the newest limit events (newest first), for operators browsing the log.
func (s *Store) ReadLatest(ctx context.Context, q dbq.DBTX, f Filter, limit int) ([]Event, error) {
	p := dbq.ReadLatestParams{StreamID: nullString(f.StreamID), StreamType: nullString(f.StreamType),
		EventType: nullString(f.EventType), MaxRows: int32(limit)}
	if f.Before != nil {
		p.BeforeTx = sql.NullInt64{Int64: f.Before.TxID, Valid: true}
		p.BeforePosition = sql.NullInt64{Int64: f.Before.Position, Valid: true}
	}
	rows, err := s.q.ReadLatest(ctx, q, p)
	if err != nil {
		return nil, fmt.Errorf("eventlog: read latest: %w", err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		e, err := s.fromRow(dbq.LoadStreamRow(r))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// CursorOf turns a position a client saw into a cursor to resume after.
func (s *Store) CursorOf(ctx context.Context, q dbq.DBTX, position int64) (Cursor, error) {
	if position == 0 {
		return Cursor{}, nil
	}
	tx, err := s.q.CursorOf(ctx, q, position)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, &domain.Error{Code: domain.CodeInvalid, Message: fmt.Sprintf("position %d is not in the log", position),
			Fields: []domain.FieldError{{Field: "after", Message: "unknown position"}}}
	}
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{TxID: tx, Position: position}, nil
}

// VisibleHead is the cursor of the newest event that every reader can already see.
func (s *Store) VisibleHead(ctx context.Context, q dbq.DBTX) (Cursor, error) {
	r, err := s.q.VisibleHead(ctx, q)
	if errors.Is(err, sql.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{TxID: r.TransactionID, Position: r.Offset}, nil
}

func (s *Store) fromRow(r dbq.LoadStreamRow) (Event, error) {
	e := Event{Position: r.Offset, TxID: r.TransactionID, ID: r.Uuid, StreamID: r.StreamID, StreamType: r.StreamType,
		Version: r.StreamVersion, Type: r.EventType, SchemaVersion: int(r.SchemaVersion), Payload: r.Payload,
		OccurredAt: r.OccurredAt.UTC(), PrevHash: r.PrevHash, Hash: r.Hash}
	if err := json.Unmarshal(r.Metadata, &e.Metadata); err != nil {
		return Event{}, fmt.Errorf("eventlog: metadata of position %d: %w", r.Offset, err)
	}
	return s.upcast(e)
}

func (s *Store) upcast(e Event) (Event, error) {
	if s.upcaster == nil {
		return e, nil
	}
	payload, version, err := s.upcaster.Upcast(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("eventlog: position %d: %w", e.Position, err)
	}
	e.Payload, e.SchemaVersion = payload, version
	return e, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func isUniqueViolation(err error, constraint string) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505" && (constraint == "" || pg.ConstraintName == constraint)
}
