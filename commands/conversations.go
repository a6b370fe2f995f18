package commands

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
)

// ConversationRun is the job that takes a conversation's turns until it ends.
type ConversationRun struct {
	ConversationID string `json:"conversation_id"`
}

func (ConversationRun) Kind() string { return "conversation_run" }

type StartConversation struct {
	Envelope
	ConversationID string                  `json:"conversation_id"`
	Spec           domain.ConversationSpec `json:"spec"`
}

type TakeTurn struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	Number         int    `json:"number"`
	SpeakerID      string `json:"speaker_id"`
	Content        string `json:"content"`
	// SeenPosts is how many posts of people the turn's prompt included.
	SeenPosts int `json:"seen_posts"`
	// Recalled is what recall added to the speaker's prompt, recorded with the turn. (Not
	// "context": that is the envelope's audit context.)
	Recalled *domain.InjectedContext `json:"recalled,omitempty"`
}

type PostToConversation struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Content        string `json:"content"`
}

type EndConversation struct {
	Envelope
	ConversationID string           `json:"conversation_id"`
	Reason         domain.EndReason `json:"reason"`
	Detail         string           `json:"detail"`
}

// Conversations holds the conversation use cases.
type Conversations struct {
	repo *Repository
	jobs jobs.Inserter
}

// RegisterConversations adds the conversation command handlers to the bus.
func RegisterConversations(b *Bus, repo *Repository, inserter jobs.Inserter) *Conversations {
	c := &Conversations{repo: repo, jobs: inserter}
	handle(b, "conversations.start", c.Start)
	handle(b, "conversations.take_turn", c.TakeTurn)
	handle(b, "conversations.post", c.Post)
	handle(b, "conversations.end", c.End)
	return c
}

func newConversation() *domain.Conversation { return &domain.Conversation{} }

func conversationChange(id string, env Envelope) change {
	return change{streamID: domain.ConversationStreamID(id), streamType: domain.StreamTypeConversation, env: env}
}

func (c *Conversations) Start(ctx context.Context, cmd *StartConversation) (Result, error) {
	ch := conversationChange(cmd.ConversationID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		_, err := c.jobs.InsertTx(ctx, tx, ConversationRun{ConversationID: cmd.ConversationID}, &river.InsertOpts{MaxAttempts: 10})
		return err
	}
	return execute(ctx, c.repo, ch, newConversation, func(agg *domain.Conversation) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.ConversationID, cmd.Spec)
	})
}

func (c *Conversations) TakeTurn(ctx context.Context, cmd *TakeTurn) (Result, error) {
	return execute(ctx, c.repo, conversationChange(cmd.ConversationID, cmd.Envelope), newConversation, func(agg *domain.Conversation) ([]domain.Event, error) {
		events, err := agg.TakeTurn(cmd.Number, cmd.SpeakerID, cmd.Content, cmd.SeenPosts)
		if err == nil && cmd.Recalled != nil {
			events[0].(*domain.ConversationTurnTaken).Turn.Context = cmd.Recalled
		}
		return events, err
	})
}

func (c *Conversations) Post(ctx context.Context, cmd *PostToConversation) (Result, error) {
	return execute(ctx, c.repo, conversationChange(cmd.ConversationID, cmd.Envelope), newConversation, func(agg *domain.Conversation) ([]domain.Event, error) {
		return agg.Post(cmd.actor(), cmd.MessageID, cmd.Content)
	})
}

func (c *Conversations) End(ctx context.Context, cmd *EndConversation) (Result, error) {
	return execute(ctx, c.repo, conversationChange(cmd.ConversationID, cmd.Envelope), newConversation, func(agg *domain.Conversation) ([]domain.Event, error) {
		if cmd.Reason == domain.EndStopped && !cmd.actor().IsAdmin() && cmd.Actor != agg.Owner {
			return nil, domain.Errorf(domain.CodeForbidden, "only the conversation's owner or an admin may stop it")
		}
		return agg.End(cmd.Reason, cmd.Detail)
	})
}

// LoadConversation rebuilds a conversation and returns its events.
func (r *Repository) LoadConversation(ctx context.Context, id string) (*domain.Conversation, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.ConversationStreamID(id), newConversation)
}
