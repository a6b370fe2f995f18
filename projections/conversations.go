package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Conversations is the projection behind conversation lists: status, turns taken and end
// reason per conversation. A single conversation's transcript is read from its stream, which
// is always current.
type Conversations struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewConversations returns the conversations projection.
func NewConversations(events *domain.Registry) *Conversations {
	return &Conversations{q: dbq.New(), events: events}
}

func (*Conversations) Name() string     { return "conversations" }
func (*Conversations) Tables() []string { return []string{"conversations"} }

func (p *Conversations) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeConversation {
		return nil
	}
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypeConversation+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	update := dbq.UpdateConversationParams{ID: id, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position}
	switch ev := ev.(type) {
	case *domain.ConversationCreated:
		circle, err := uuid.Parse(ev.Spec.CircleID)
		if err != nil {
			return err
		}
		parts, err := json.Marshal(ev.Spec.Participants)
		if err != nil {
			return err
		}
		return p.q.InsertConversation(ctx, q, dbq.InsertConversationParams{ID: id, CircleID: circle, Owner: ev.Owner, Topic: ev.Spec.Topic,
			Strategy: string(ev.Spec.Strategy), Participants: parts, MaxTurns: int32(ev.Spec.MaxTurns), Version: e.Version,
			At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ConversationTurnTaken:
		update.Turns = 1
	case *domain.ConversationMessagePosted:
		update.Posts = 1
	case *domain.ConversationEnded:
		update.Status = nullString("ended")
		update.EndReason = nullString(string(ev.Reason))
		update.EndDetail = sql.NullString{String: ev.Detail, Valid: true}
	}
	return p.q.UpdateConversation(ctx, q, update)
}

func (p *Conversations) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.ConversationsChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// ConversationSummary is a conversation in a list.
type ConversationSummary struct {
	ID           string               `json:"id"`
	CircleID     string               `json:"circle_id"`
	Owner        string               `json:"owner"`
	Topic        string               `json:"topic"`
	Strategy     string               `json:"strategy"`
	Participants []domain.Participant `json:"participants"`
	Status       string               `json:"status"`
	TurnsTaken   int                  `json:"turns_taken"`
	MaxTurns     int                  `json:"max_turns"`
	Posts        int                  `json:"posts"`
	EndReason    string               `json:"end_reason,omitempty"`
	EndDetail    string               `json:"end_detail,omitempty"`
	Version      int64                `json:"version"`
	CreatedAt    time.Time            `json:"created_at"`
	UpdatedAt    time.Time            `json:"updated_at"`
}

// ConversationQueries reads the conversations read model.
type ConversationQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewConversationQueries returns conversation queries on db.
func NewConversationQueries(db *sql.DB) *ConversationQueries {
	return &ConversationQueries{db: db, q: dbq.New()}
}

// List returns conversations, newest first; empty filters do not filter.
func (c *ConversationQueries) List(ctx context.Context, circleID, owner, status string, limit int) ([]ConversationSummary, error) {
	rows, err := c.q.ListConversations(ctx, c.db, dbq.ListConversationsParams{CircleID: nullUUID(circleID), Owner: nullString(owner),
		Status: nullString(status), MaxRows: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]ConversationSummary, 0, len(rows))
	for _, r := range rows {
		s := ConversationSummary{ID: r.ID.String(), CircleID: r.CircleID.String(), Owner: r.Owner, Topic: r.Topic, Strategy: r.Strategy,
			Status: r.Status, TurnsTaken: int(r.TurnsTaken), MaxTurns: int(r.MaxTurns), Posts: int(r.Posts), EndReason: r.EndReason,
			EndDetail: r.EndDetail, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
		if err := json.Unmarshal(r.Participants, &s.Participants); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
