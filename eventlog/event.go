// Package eventlog is GatheRing's source of truth: one append-only PostgreSQL table that is at
// the same time the event store (streams, expected versions, hash chains) and the watermill-sql
// outbox every consumer reads in gap-safe global order.
package eventlog

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Topic is the single watermill topic of the log. One table for all events: a topic per
// aggregate or circle would multiply tables and consumer groups (watermill-sql makes one each).
const Topic = "events"

// NotifyChannel is the PostgreSQL channel an append notifies at commit, so followers wake up
// within milliseconds instead of at their next poll.
const NotifyChannel = "gathering_events"

// Cursor is a place in the global order. Positions (the log's BIGSERIAL) are unique but are
// assigned when a row is inserted, not when its transaction commits, so the order that never
// skips a late commit is (transaction id, position). A client only ever needs the position: the
// transaction id of a position is looked up in the log.
type Cursor struct {
	TxID     int64 `json:"tx"`
	Position int64 `json:"position"`
}

func (c Cursor) String() string { return fmt.Sprintf("position %d (tx %d)", c.Position, c.TxID) }

// Less reports whether c comes before o in the global order.
func (c Cursor) Less(o Cursor) bool {
	if c.TxID != o.TxID {
		return c.TxID < o.TxID
	}
	return c.Position < o.Position
}

// Metadata says who caused an event and why.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor,omitempty"`
	// Extra carries context such as the request id; it is hashed with the event.
	Extra map[string]string `json:"extra,omitempty"`
}

// NewEvent is an event about to be appended.
type NewEvent struct {
	Type          string
	SchemaVersion int
	Payload       json.RawMessage
}

// Event is an event as recorded in the log.
type Event struct {
	Position      int64           `json:"position"`
	TxID          int64           `json:"tx"`
	ID            uuid.UUID       `json:"id"`
	StreamID      string          `json:"stream_id"`
	StreamType    string          `json:"stream_type"`
	Version       int64           `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Payload       json.RawMessage `json:"payload"`
	Metadata      Metadata        `json:"metadata"`
	OccurredAt    time.Time       `json:"occurred_at"`
	PrevHash      []byte          `json:"prev_hash"`
	Hash          []byte          `json:"hash"`
}

// Cursor returns the event's place in the global order.
func (e Event) Cursor() Cursor { return Cursor{TxID: e.TxID, Position: e.Position} }

// Head is the end of a stream as a writer last saw it: the version to expect and the hash the
// next event chains to.
type Head struct {
	Version int64
	Hash    []byte
}

// Upcaster brings a stored payload up to the current schema version of its type. Unknown types
// pass through unchanged.
type Upcaster interface {
	Upcast(eventType string, version int, payload []byte) ([]byte, int, error)
}
