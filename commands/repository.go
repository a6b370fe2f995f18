// Package commands turns requests into events. Every mutation is a named command sent over a
// watermill CQRS command bus; its handler loads the aggregate from the log, lets domain/ decide,
// and appends what the domain decided, all in one transaction.
package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Aggregate is what a stream folds into.
type Aggregate interface {
	Apply(domain.Event)
}

// Envelope is what every command carries besides its own fields.
type Envelope struct {
	CommandID string `json:"command_id"`
	// Actor is the id of the user the command acts for ("system" for the server itself);
	// ActorRole decides what it may do.
	Actor         string      `json:"actor"`
	ActorRole     domain.Role `json:"actor_role"`
	CorrelationID string      `json:"correlation_id"`
	// Context is stored with the events for the audit trail: ip, user_agent, request_id.
	Context map[string]string `json:"context,omitempty"`
	// IdempotencyKey, when set, makes the command apply at most once; Fingerprint identifies
	// the request so that a key reused for a different request is refused.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	// ExpectedVersion, when set, is the version the caller saw (If-Match); a stale one is a
	// version conflict reported to the caller rather than retried.
	ExpectedVersion *int64 `json:"expected_version,omitempty"`
}

func (e Envelope) metadata() eventlog.Metadata {
	extra := map[string]string{}
	for k, v := range e.Context {
		extra[k] = v
	}
	if e.ActorRole != "" {
		extra["actor_role"] = string(e.ActorRole)
	}
	if len(extra) == 0 {
		extra = nil
	}
	return eventlog.Metadata{CorrelationID: e.CorrelationID, CausationID: e.CommandID, Actor: e.Actor, Extra: extra}
}

// actor is who the command acts for, as the domain sees it.
func (e Envelope) actor() domain.Actor { return domain.Actor{ID: e.Actor, Role: e.ActorRole} }

// Result is what a command did.
type Result struct {
	StreamID string `json:"stream_id"`
	Version  int64  `json:"version"`
	// Position and TxID locate the last event appended (zero when nothing was appended), so a
	// caller can wait for read models to pass it before reading its own write.
	Position int64 `json:"position"`
	TxID     int64 `json:"tx"`
	Appended int   `json:"appended"`
	// Replayed is true when an Idempotency-Key matched an earlier command: nothing new was
	// appended and the fields above describe the original.
	Replayed bool `json:"replayed"`
}

// Cursor is where the command's last event sits in the global order.
func (r Result) Cursor() eventlog.Cursor { return eventlog.Cursor{TxID: r.TxID, Position: r.Position} }

// Repository loads aggregates from the log and appends their decisions. It owns the
// transaction, like the update-function repositories of wild-workouts: callers only decide.
type Repository struct {
	db         *sql.DB
	store      *eventlog.Store
	events     *domain.Registry
	announcer  *eventlog.Announcer
	q          *dbq.Queries
	maxRetries int
}

// NewRepository returns a repository on the log; announcer (nil in tools that only read)
// wakes followers after each commit.
func NewRepository(store *eventlog.Store, events *domain.Registry, announcer *eventlog.Announcer) *Repository {
	return &Repository{db: store.DB(), store: store, events: events, announcer: announcer, q: dbq.New(), maxRetries: 8}
}

// change names the stream a command works on.
type change struct {
	streamID   string
	streamType string
	env        Envelope
	// alsoInTx, if set, runs in the appending transaction after the append, for rules that
	// span aggregates (such as a unique email); its error rolls the append back.
	alsoInTx func(ctx context.Context, tx *sql.Tx, appended []eventlog.Event) error
}

var errKeyRace = errors.New("idempotency key claimed concurrently")

// execute loads the stream into agg, calls decide and appends its events. A version conflict is
// retried on a freshly loaded aggregate unless the caller pinned a version.
func execute[A Aggregate](ctx context.Context, r *Repository, c change, newAgg func() A, decide func(A) ([]domain.Event, error)) (Result, error) {
	for attempt := 0; ; attempt++ {
		if c.env.IdempotencyKey != "" {
			if res, done, err := r.replay(ctx, c.env); done || err != nil {
				return res, err
			}
		}
		res, err := r.executeOnce(ctx, c, newAgg(), func(a Aggregate) ([]domain.Event, error) { return decide(a.(A)) })
		if errors.Is(err, errKeyRace) {
			continue // the other request won; the next round replays its result
		}
		if errors.Is(err, eventlog.ErrVersionConflict) && c.env.ExpectedVersion == nil && attempt < r.maxRetries {
			// Jitter keeps writers that collided from colliding again in lockstep.
			time.Sleep(time.Duration(rand.IntN(1<<min(attempt, 5))+1) * time.Millisecond)
			continue
		}
		return res, err
	}
}

func (r *Repository) executeOnce(ctx context.Context, c change, agg Aggregate, decide func(Aggregate) ([]domain.Event, error)) (Result, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = tx.Rollback() }()

	stored, head, err := r.store.Load(ctx, tx, c.streamID)
	if err != nil {
		return Result{}, err
	}
	for _, e := range stored {
		decoded, err := r.events.Decode(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return Result{}, fmt.Errorf("load %s: %w", c.streamID, err)
		}
		agg.Apply(decoded)
	}
	if exp := c.env.ExpectedVersion; exp != nil && head.Version > 0 && *exp != head.Version {
		return Result{}, &domain.Error{Code: domain.CodeVersionConflict,
			Message: fmt.Sprintf("version %d is stale; the current version is %d", *exp, head.Version)}
	}
	decided, err := decide(agg)
	if err != nil {
		return Result{}, err
	}
	res := Result{StreamID: c.streamID, Version: head.Version}
	if len(decided) == 0 {
		return res, tx.Commit()
	}
	newEvents := make([]eventlog.NewEvent, len(decided))
	for i, e := range decided {
		typ, version, payload, err := r.events.Encode(e)
		if err != nil {
			return Result{}, err
		}
		newEvents[i] = eventlog.NewEvent{Type: typ, SchemaVersion: version, Payload: payload}
	}
	appended, err := r.store.Append(ctx, tx, c.streamID, c.streamType, head, newEvents, c.env.metadata())
	if err != nil {
		return Result{}, err
	}
	if c.alsoInTx != nil {
		if err := c.alsoInTx(ctx, tx, appended); err != nil {
			return Result{}, err
		}
	}
	last := appended[len(appended)-1]
	res = Result{StreamID: c.streamID, Version: last.Version, Position: last.Position, TxID: last.TxID, Appended: len(appended)}
	if c.env.IdempotencyKey != "" {
		n, err := r.q.ClaimIdempotencyKey(ctx, tx, dbq.ClaimIdempotencyKeyParams{Key: c.env.IdempotencyKey,
			Fingerprint: c.env.Fingerprint, StreamID: res.StreamID, StreamVersion: res.Version, Position: res.Position,
			TransactionID: res.TxID})
		if err != nil {
			return Result{}, err
		}
		if n == 0 {
			return Result{}, errKeyRace
		}
	}
	if err := tx.Commit(); err != nil {
		return Result{}, err
	}
	r.announcer.Announce()
	return res, nil
}

// replay returns the result of an earlier command with the same idempotency key.
func (r *Repository) replay(ctx context.Context, env Envelope) (Result, bool, error) {
	row, err := r.q.GetIdempotencyKey(ctx, r.db, env.IdempotencyKey)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, err
	}
	if row.Fingerprint != env.Fingerprint {
		return Result{}, true, &domain.Error{Code: domain.CodeConflict,
			Message: "this Idempotency-Key was already used for a different request",
			Fields:  []domain.FieldError{{Field: "Idempotency-Key", Message: "reused with a different request"}}}
	}
	return Result{StreamID: row.StreamID, Version: row.StreamVersion, Position: row.Position, TxID: row.TransactionID,
		Replayed: true}, true, nil
}

// PurgeIdempotencyKeys forgets the idempotency keys (and stored responses) claimed before
// before; a request retried after that is treated as new.
func PurgeIdempotencyKeys(ctx context.Context, db *sql.DB, before time.Time) (int64, error) {
	return dbq.New().PurgeIdempotencyKeys(ctx, db, before)
}

var jsonUnmarshal = json.Unmarshal
