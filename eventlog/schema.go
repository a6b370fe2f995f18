package eventlog

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	wmsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
)

// Metadata keys of a log message as watermill sees it. They carry the envelope columns between
// the store, the schema adapter and consumers; they are not stored in the metadata column.
const (
	mdStreamID      = "stream_id"
	mdStreamType    = "stream_type"
	mdVersion       = "stream_version"
	mdEventType     = "event_type"
	mdSchemaVersion = "schema_version"
	mdOccurredAt    = "occurred_at"
	mdPrevHash      = "prev_hash"
	mdHash          = "hash"
	mdMetadata      = "metadata"
	mdPosition      = "position"
	mdTxID          = "tx"
)

// defaultBatchSize bounds how many events one subscriber transaction handles; a crash redelivers
// at most this many, and the projection effects of the batch commit with its offset.
const defaultBatchSize = 100

// Schema is the watermill-sql SchemaAdapter for eventlog.events. The stock PostgreSQL adapter
// knows only uuid, payload and metadata; this one also writes stream, version, type, schema
// version and hash columns, and scans xid8 through text (v3.1.0 scans it into int64 directly,
// which the pgx driver cannot do: watermill#528, watermill-sql#43).
type Schema struct {
	Upcaster  Upcaster
	BatchSize int
}

var _ wmsql.SchemaAdapter = (*Schema)(nil)

const insertColumns = `(uuid, stream_id, stream_type, stream_version, event_type, schema_version, payload, metadata,
	correlation_id, causation_id, actor, occurred_at, prev_hash, hash)`

func (s *Schema) InsertQuery(topic string, msgs message.Messages) (wmsql.Query, error) {
	if topic != Topic {
		return wmsql.Query{}, fmt.Errorf("eventlog: unknown topic %q", topic)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO eventlog.events ` + insertColumns + ` VALUES `)
	args := make([]any, 0, len(msgs)*14)
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(",")
		}
		n := len(args)
		b.WriteString("(")
		for j := 1; j <= 14; j++ {
			if j > 1 {
				b.WriteString(",")
			}
			b.WriteString("$" + strconv.Itoa(n+j))
		}
		b.WriteString(")")
		row, err := insertArgs(m)
		if err != nil {
			return wmsql.Query{}, err
		}
		args = append(args, row...)
	}
	// RETURNING hands the positions back in the same round trip (see returningTx).
	b.WriteString(` RETURNING "offset", stream_version, transaction_id::text::bigint`)
	return wmsql.Query{Query: b.String(), Args: args}, nil
}

func insertArgs(m *message.Message) ([]any, error) {
	md := m.Metadata
	version, err1 := strconv.ParseInt(md.Get(mdVersion), 10, 64)
	schemaVersion, err2 := strconv.Atoi(md.Get(mdSchemaVersion))
	occurred, err3 := time.Parse(time.RFC3339Nano, md.Get(mdOccurredAt))
	prev, err4 := hex.DecodeString(md.Get(mdPrevHash))
	hash, err5 := hex.DecodeString(md.Get(mdHash))
	id, err6 := uuid.Parse(m.UUID)
	var meta Metadata
	err7 := json.Unmarshal([]byte(md.Get(mdMetadata)), &meta)
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			return nil, fmt.Errorf("eventlog: message %s is not a log event: %w", m.UUID, err)
		}
	}
	return []any{id, md.Get(mdStreamID), md.Get(mdStreamType), version, md.Get(mdEventType), schemaVersion,
		[]byte(m.Payload), []byte(md.Get(mdMetadata)), meta.CorrelationID, meta.CausationID, meta.Actor,
		occurred, prev, hash}, nil
}

// outboxMessage is how Store.Append hands one event to the watermill publisher.
func outboxMessage(e *Event, metaJSON []byte) *message.Message {
	m := message.NewMessage(e.ID.String(), message.Payload(e.Payload))
	m.Metadata = message.Metadata{
		mdStreamID:      e.StreamID,
		mdStreamType:    e.StreamType,
		mdVersion:       strconv.FormatInt(e.Version, 10),
		mdEventType:     e.Type,
		mdSchemaVersion: strconv.Itoa(e.SchemaVersion),
		mdOccurredAt:    e.OccurredAt.Format(time.RFC3339Nano),
		mdPrevHash:      hex.EncodeToString(e.PrevHash),
		mdHash:          hex.EncodeToString(e.Hash),
		mdMetadata:      string(metaJSON),
	}
	return m
}

const selectColumns = `"offset", transaction_id::text::bigint, uuid, stream_id, stream_type, stream_version,
	event_type, schema_version, payload, metadata, occurred_at, prev_hash, hash`

func (s *Schema) SelectQuery(topic string, consumerGroup string, offsets wmsql.OffsetsAdapter) wmsql.Query {
	next := offsets.NextOffsetQuery(topic, consumerGroup)
	batch := s.BatchSize
	if batch <= 0 {
		batch = defaultBatchSize
	}
	// Same shape as watermill's own PostgreSQL query (a subquery keeps the planner on the
	// (transaction_id, offset) index), reading only below the oldest running transaction.
	q := `SELECT * FROM (
		WITH last_processed AS (` + next.Query + `)
		SELECT ` + selectColumns + ` FROM eventlog.events
		WHERE (
			(transaction_id = (SELECT last_processed_transaction_id FROM last_processed)
				AND "offset" > (SELECT offset_acked FROM last_processed))
			OR transaction_id > (SELECT last_processed_transaction_id FROM last_processed)
		)
		AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
	) AS messages
	ORDER BY transaction_id ASC, "offset" ASC
	LIMIT ` + strconv.Itoa(batch)
	return wmsql.Query{Query: q, Args: next.Args}
}

func (s *Schema) UnmarshalMessage(row wmsql.Scanner) (wmsql.Row, error) {
	var (
		e        Event
		metadata []byte
		schemaV  int32
	)
	err := row.Scan(&e.Position, &e.TxID, &e.ID, &e.StreamID, &e.StreamType, &e.Version, &e.Type, &schemaV,
		&e.Payload, &metadata, &e.OccurredAt, &e.PrevHash, &e.Hash)
	if err != nil {
		return wmsql.Row{}, fmt.Errorf("eventlog: scan event: %w", err)
	}
	e.SchemaVersion = int(schemaV)
	if s.Upcaster != nil {
		payload, v, err := s.Upcaster.Upcast(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return wmsql.Row{}, err
		}
		e.Payload, e.SchemaVersion = payload, v
	}
	msg := message.NewMessage(e.ID.String(), message.Payload(e.Payload))
	msg.Metadata = message.Metadata{
		mdStreamID:      e.StreamID,
		mdStreamType:    e.StreamType,
		mdVersion:       strconv.FormatInt(e.Version, 10),
		mdEventType:     e.Type,
		mdSchemaVersion: strconv.Itoa(e.SchemaVersion),
		mdOccurredAt:    e.OccurredAt.UTC().Format(time.RFC3339Nano),
		mdPrevHash:      hex.EncodeToString(e.PrevHash),
		mdHash:          hex.EncodeToString(e.Hash),
		mdMetadata:      string(metadata),
		mdPosition:      strconv.FormatInt(e.Position, 10),
		mdTxID:          strconv.FormatInt(e.TxID, 10),
	}
	return wmsql.Row{Offset: e.Position, UUID: []byte(msg.UUID), Payload: e.Payload, Metadata: metadata, Msg: msg,
		ExtraData: map[string]any{"transaction_id": e.TxID}}, nil
}

// The table is created by migrations, never by watermill at run time: one schema, one tool.
func (s *Schema) SchemaInitializingQueries(topic string) []wmsql.Query { return nil }

func (s *Schema) SubscribeIsolationLevel() sql.IsolationLevel { return sql.LevelRepeatableRead }

// FromMessage recovers the log event a subscriber delivered.
func FromMessage(m *message.Message) (Event, error) {
	md := m.Metadata
	e := Event{StreamID: md.Get(mdStreamID), StreamType: md.Get(mdStreamType), Type: md.Get(mdEventType),
		Payload: json.RawMessage(m.Payload)}
	var errs [8]error
	e.ID, errs[0] = uuid.Parse(m.UUID)
	e.Version, errs[1] = strconv.ParseInt(md.Get(mdVersion), 10, 64)
	e.SchemaVersion, errs[2] = strconv.Atoi(md.Get(mdSchemaVersion))
	e.OccurredAt, errs[3] = time.Parse(time.RFC3339Nano, md.Get(mdOccurredAt))
	e.Position, errs[4] = strconv.ParseInt(md.Get(mdPosition), 10, 64)
	e.TxID, errs[5] = strconv.ParseInt(md.Get(mdTxID), 10, 64)
	e.Hash, errs[6] = hex.DecodeString(md.Get(mdHash))
	errs[7] = json.Unmarshal([]byte(md.Get(mdMetadata)), &e.Metadata)
	for _, err := range errs {
		if err != nil {
			return Event{}, fmt.Errorf("eventlog: message %s is not a log event: %w", m.UUID, err)
		}
	}
	e.PrevHash, _ = hex.DecodeString(md.Get(mdPrevHash))
	return e, nil
}

// Offsets is the durable OffsetsAdapter: one row per consumer group in eventlog.consumer_offsets,
// locked FOR UPDATE while a batch is processed and advanced in the same transaction as the
// batch's effects.
type Offsets struct{}

var _ wmsql.OffsetsAdapter = Offsets{}

func (Offsets) AckMessageQuery(topic string, row wmsql.Row, group string) wmsql.Query {
	return wmsql.Query{Query: `UPDATE eventlog.consumer_offsets
		SET offset_acked = $1, last_processed_transaction_id = $2::bigint::text::xid8, updated_at = now()
		WHERE consumer_group = $3`,
		Args: []any{row.Offset, row.ExtraData["transaction_id"], group}}
}

func (Offsets) ConsumedMessageQuery(string, wmsql.Row, string, []byte) wmsql.Query {
	return wmsql.Query{}
}

func (Offsets) NextOffsetQuery(topic, group string) wmsql.Query {
	return wmsql.Query{Query: `SELECT offset_acked, last_processed_transaction_id FROM eventlog.consumer_offsets
		WHERE consumer_group = $1 FOR UPDATE`, Args: []any{group}}
}

func (Offsets) SchemaInitializingQueries(string) []wmsql.Query { return nil }

func (Offsets) BeforeSubscribingQueries(topic, group string) []wmsql.Query {
	// Without a row there is nothing for FOR UPDATE to lock, and two instances could both
	// consume the group's first batch.
	return []wmsql.Query{{Query: `INSERT INTO eventlog.consumer_offsets (consumer_group) VALUES ($1)
		ON CONFLICT DO NOTHING`, Args: []any{group}}}
}

// Ephemeral is an OffsetsAdapter whose cursor lives in memory: live followers (the WebSocket fan
// out) read the log through the same watermill-sql subscriber as projections but have nothing to
// persist: a restarted server starts at the head, and clients resume from their own position.
type Ephemeral struct {
	mu     sync.Mutex
	cursor Cursor
}

// NewEphemeral starts a follower right after cursor.
func NewEphemeral(start Cursor) *Ephemeral { return &Ephemeral{cursor: start} }

// Cursor is the last event handed to the follower.
func (e *Ephemeral) Cursor() Cursor {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cursor
}

func (e *Ephemeral) AckMessageQuery(topic string, row wmsql.Row, group string) wmsql.Query {
	// Called once per processed batch, after every message in it was acked; the cursor can move
	// now because nothing of an in-memory follower is rolled back.
	e.mu.Lock()
	e.cursor = Cursor{TxID: row.ExtraData["transaction_id"].(int64), Position: row.Offset}
	e.mu.Unlock()
	return wmsql.Query{Query: `SELECT 1`}
}

func (e *Ephemeral) ConsumedMessageQuery(string, wmsql.Row, string, []byte) wmsql.Query {
	return wmsql.Query{}
}

func (e *Ephemeral) NextOffsetQuery(topic, group string) wmsql.Query {
	c := e.Cursor()
	return wmsql.Query{Query: `SELECT $1::bigint AS offset_acked, $2::bigint::text::xid8 AS last_processed_transaction_id`,
		Args: []any{c.Position, c.TxID}}
}

func (e *Ephemeral) SchemaInitializingQueries(string) []wmsql.Query        { return nil }
func (e *Ephemeral) BeforeSubscribingQueries(string, string) []wmsql.Query { return nil }
