package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Chats is the projection behind chat transcripts and per-agent usage totals.
type Chats struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewChats returns the chats projection.
func NewChats(events *domain.Registry) *Chats { return &Chats{q: dbq.New(), events: events} }

func (*Chats) Name() string     { return "chats" }
func (*Chats) Tables() []string { return []string{"chat_sessions", "chat_messages", "agent_usage"} }

func (c *Chats) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeChat {
		return nil
	}
	session, err := uuid.Parse(e.StreamID[len("chat-"):])
	if err != nil {
		return err
	}
	ev, err := c.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	empty := json.RawMessage(`{}`)
	switch ev := ev.(type) {
	case *domain.ChatStarted:
		agent, err := uuid.Parse(ev.AgentID)
		if err != nil {
			return err
		}
		return c.q.InsertChatSession(ctx, q, dbq.InsertChatSessionParams{ID: session, AgentID: agent, Owner: ev.Owner,
			At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ChatMessagePosted:
		return c.q.AddChatMessage(ctx, q, dbq.AddChatMessageParams{SessionID: session, MessageID: ev.MessageID, Role: "user",
			Content: ev.Content, Status: "posted", Totals: empty, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ChatModelCalled:
		return c.addUsage(ctx, q, session, e.Position, 1, 0, ev.Call.InputTokens, ev.Call.OutputTokens, ev.Call.CostUSD)
	case *domain.ChatToolCalled:
		return c.addUsage(ctx, q, session, e.Position, 0, 1, 0, 0, 0)
	case *domain.ChatReplied:
		totals, err := json.Marshal(ev.Totals)
		if err != nil {
			return err
		}
		if err := c.q.SetChatMessageStatus(ctx, q, dbq.SetChatMessageStatusParams{SessionID: session, MessageID: ev.MessageID, Status: "answered"}); err != nil {
			return err
		}
		return c.q.AddChatMessage(ctx, q, dbq.AddChatMessageParams{SessionID: session, MessageID: ev.ReplyID, Role: "assistant",
			Content: ev.Content, Status: "reply", Totals: totals, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ChatFailed:
		return c.q.SetChatMessageStatus(ctx, q, dbq.SetChatMessageStatusParams{SessionID: session, MessageID: ev.MessageID,
			Status: "failed", Error: ev.Kind + ": " + ev.Message})
	}
	return nil
}

func (c *Chats) addUsage(ctx context.Context, q dbq.DBTX, session uuid.UUID, position int64, calls, toolCalls, in, out int, cost float64) error {
	agent, err := c.q.ChatSessionAgent(ctx, q, session)
	if err != nil {
		return err
	}
	return c.q.AddAgentUsage(ctx, q, dbq.AddAgentUsageParams{AgentID: agent, ModelCalls: int64(calls), ToolCalls: int64(toolCalls),
		InputTokens: int64(in), OutputTokens: int64(out), CostUsd: cost, LastPosition: position})
}

func (c *Chats) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := c.q.ChatsChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// ChatMessageView is one line of a transcript.
type ChatMessageView struct {
	ID        string             `json:"id"`
	Role      string             `json:"role"`
	Content   string             `json:"content"`
	Status    string             `json:"status"`
	Error     string             `json:"error,omitempty"`
	Totals    *domain.ChatTotals `json:"totals,omitempty"`
	CreatedAt time.Time          `json:"created_at"`
}

// ChatView is a session with its transcript.
type ChatView struct {
	ID        string            `json:"id"`
	AgentID   string            `json:"agent_id"`
	Owner     string            `json:"owner"`
	Messages  []ChatMessageView `json:"messages"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// UsageView is what an agent has consumed.
type UsageView struct {
	AgentID      string  `json:"agent_id"`
	ModelCalls   int64   `json:"model_calls"`
	ToolCalls    int64   `json:"tool_calls"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// ChatQueries reads the chats read model.
type ChatQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewChatQueries returns chat queries on db.
func NewChatQueries(db *sql.DB) *ChatQueries { return &ChatQueries{db: db, q: dbq.New()} }

// Session returns a session and its transcript.
func (c *ChatQueries) Session(ctx context.Context, id string) (ChatView, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return ChatView{}, domain.Errorf(domain.CodeNotFound, "chat session %s not found", id)
	}
	s, err := c.q.GetChatSession(ctx, c.db, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return ChatView{}, domain.Errorf(domain.CodeNotFound, "chat session %s not found", id)
	}
	if err != nil {
		return ChatView{}, err
	}
	rows, err := c.q.ListChatMessages(ctx, c.db, uid)
	if err != nil {
		return ChatView{}, err
	}
	v := ChatView{ID: s.ID.String(), AgentID: s.AgentID.String(), Owner: s.Owner, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(),
		Messages: make([]ChatMessageView, 0, len(rows))}
	for _, r := range rows {
		m := ChatMessageView{ID: r.MessageID, Role: r.Role, Content: r.Content, Status: r.Status, Error: r.Error, CreatedAt: r.CreatedAt.UTC()}
		if r.Role == "assistant" {
			var t domain.ChatTotals
			if json.Unmarshal(r.Totals, &t) == nil {
				m.Totals = &t
			}
		}
		v.Messages = append(v.Messages, m)
	}
	return v, nil
}

// Usage returns an agent's token and cost totals (zero when it never called a model).
func (c *ChatQueries) Usage(ctx context.Context, agentID string) (UsageView, error) {
	uid, err := uuid.Parse(agentID)
	if err != nil {
		return UsageView{}, domain.Errorf(domain.CodeNotFound, "agent %s not found", agentID)
	}
	r, err := c.q.GetAgentUsage(ctx, c.db, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return UsageView{AgentID: agentID}, nil
	}
	if err != nil {
		return UsageView{}, err
	}
	return UsageView{AgentID: agentID, ModelCalls: r.ModelCalls, ToolCalls: r.ToolCalls, InputTokens: r.InputTokens,
		OutputTokens: r.OutputTokens, CostUSD: r.CostUsd}, nil
}
