package commands

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
)

// ChatTurn is the job that answers a chat session's unanswered messages.
type ChatTurn struct {
	SessionID string `json:"session_id"`
}

func (ChatTurn) Kind() string { return "chat_turn" }

// PostChatMessage adds a person's message to a session (opening it) and, in the same
// transaction, enqueues the job that will answer it.
type PostChatMessage struct {
	Envelope
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
}

// RecordModelCall, RecordToolCall, CompleteReply and FailReply are sent by the chat worker.
type RecordModelCall struct {
	Envelope
	SessionID string           `json:"session_id"`
	MessageID string           `json:"message_id"`
	Call      domain.ModelCall `json:"call"`
}

type RecordToolCall struct {
	Envelope
	SessionID string                `json:"session_id"`
	MessageID string                `json:"message_id"`
	Tool      domain.ToolCallRecord `json:"tool"`
}

type CompleteReply struct {
	Envelope
	SessionID string            `json:"session_id"`
	MessageID string            `json:"message_id"`
	ReplyID   string            `json:"reply_id"`
	Content   string            `json:"content"`
	Totals    domain.ChatTotals `json:"totals"`
}

type FailReply struct {
	Envelope
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
}

// Chats holds the chat use cases.
type Chats struct {
	repo *Repository
	jobs jobs.Inserter
}

// RegisterChats adds the chat command handlers to the bus.
func RegisterChats(b *Bus, repo *Repository, inserter jobs.Inserter) *Chats {
	c := &Chats{repo: repo, jobs: inserter}
	handle(b, "chats.post", c.Post)
	handle(b, "chats.record_model_call", c.RecordModelCall)
	handle(b, "chats.record_tool_call", c.RecordToolCall)
	handle(b, "chats.complete_reply", c.CompleteReply)
	handle(b, "chats.fail_reply", c.FailReply)
	return c
}

func newChat() *domain.Chat { return &domain.Chat{} }

func chatChange(sessionID string, env Envelope) change {
	return change{streamID: domain.ChatStreamID(sessionID), streamType: domain.StreamTypeChat, env: env}
}

func (c *Chats) Post(ctx context.Context, cmd *PostChatMessage) (Result, error) {
	ch := chatChange(cmd.SessionID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		_, err := c.jobs.InsertTx(ctx, tx, ChatTurn{SessionID: cmd.SessionID}, &river.InsertOpts{MaxAttempts: 5})
		return err
	}
	return execute(ctx, c.repo, ch, newChat, func(agg *domain.Chat) ([]domain.Event, error) {
		return agg.Post(cmd.actor(), cmd.SessionID, cmd.AgentID, cmd.MessageID, cmd.Content)
	})
}

func (c *Chats) RecordModelCall(ctx context.Context, cmd *RecordModelCall) (Result, error) {
	return execute(ctx, c.repo, chatChange(cmd.SessionID, cmd.Envelope), newChat, func(agg *domain.Chat) ([]domain.Event, error) {
		return agg.RecordModelCall(cmd.MessageID, cmd.Call)
	})
}

func (c *Chats) RecordToolCall(ctx context.Context, cmd *RecordToolCall) (Result, error) {
	return execute(ctx, c.repo, chatChange(cmd.SessionID, cmd.Envelope), newChat, func(agg *domain.Chat) ([]domain.Event, error) {
		return agg.RecordToolCall(cmd.MessageID, cmd.Tool)
	})
}

func (c *Chats) CompleteReply(ctx context.Context, cmd *CompleteReply) (Result, error) {
	return execute(ctx, c.repo, chatChange(cmd.SessionID, cmd.Envelope), newChat, func(agg *domain.Chat) ([]domain.Event, error) {
		return agg.Reply(cmd.MessageID, cmd.ReplyID, cmd.Content, cmd.Totals)
	})
}

func (c *Chats) FailReply(ctx context.Context, cmd *FailReply) (Result, error) {
	return execute(ctx, c.repo, chatChange(cmd.SessionID, cmd.Envelope), newChat, func(agg *domain.Chat) ([]domain.Event, error) {
		return agg.Fail(cmd.MessageID, cmd.Kind, cmd.Message)
	})
}

// LoadChat rebuilds a session from its stream (for the worker and for replay).
func (r *Repository) LoadChat(ctx context.Context, sessionID string) (*domain.Chat, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.ChatStreamID(sessionID), newChat)
}

// LoadAgent rebuilds an agent from its stream: the worker reads the freshest settings.
func (r *Repository) LoadAgent(ctx context.Context, agentID string) (*domain.Agent, error) {
	a, _, err := loadAggregate(ctx, r, domain.AgentStreamID(agentID), newAgent)
	return a, err
}

func loadAggregate[A Aggregate](ctx context.Context, r *Repository, streamID string, newAgg func() A) (A, []eventlog.Event, error) {
	agg := newAgg()
	events, _, err := r.store.Load(ctx, r.db, streamID)
	if err != nil {
		return agg, nil, err
	}
	for _, e := range events {
		decoded, err := r.events.Decode(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return agg, nil, err
		}
		agg.Apply(decoded)
	}
	return agg, events, nil
}
