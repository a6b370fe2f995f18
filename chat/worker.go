package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
)

// Models finds the provider an agent names.
type Models interface {
	Get(name string) (llm.Provider, error)
}

// Worker answers a session's unanswered messages, one at a time and in order.
type Worker struct {
	river.WorkerDefaults[commands.ChatTurn]
	Repo   *commands.Repository
	Bus    *commands.Bus
	DB     *sql.DB
	Models Models
	Tools  Tools
	Cost   func(provider, model string, u llm.Usage) float64
	Log    zerolog.Logger
	// Recall, when set, gives a turn the agent's relevant long-term memory and knowledge.
	Recall func(ctx context.Context, agentID, text string) (*domain.InjectedContext, error)
}

// Timeout bounds one job: several model calls and tool calls.
func (w *Worker) Timeout(*river.Job[commands.ChatTurn]) time.Duration { return 10 * time.Minute }

// Work holds the session's advisory lock on its own connection (no transaction: the model call
// must not pin a transaction) so that two jobs of one session never answer at the same time;
// the second one snoozes and finds nothing left to answer.
func (w *Worker) Work(ctx context.Context, job *river.Job[commands.ChatTurn]) error {
	session := job.Args.SessionID
	conn, err := w.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var locked bool
	key := "chat:" + session
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return river.JobSnooze(300 * time.Millisecond)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key)
	}()
	for {
		c, _, err := w.Repo.LoadChat(ctx, session)
		if err != nil {
			return err
		}
		open := c.Unanswered()
		if len(open) == 0 {
			return nil
		}
		if err := w.answer(ctx, c, open[0]); err != nil {
			return err
		}
	}
}

func (w *Worker) answer(ctx context.Context, c *domain.Chat, msg domain.ChatMessage) error {
	env := commands.NewEnvelope(domain.Actor{ID: "agent:" + c.AgentID, Role: domain.RoleMember}, "")
	env.Context = map[string]string{livefeed.MetadataAgent: c.AgentID}
	fail := func(kind, message string) error {
		_, err := w.Bus.Send(ctx, &commands.FailReply{Envelope: env, SessionID: c.ID, MessageID: msg.ID, Kind: kind, Message: message})
		return err
	}
	agent, err := w.Repo.LoadAgent(ctx, c.AgentID)
	if err != nil {
		return err
	}
	if !agent.Exists() {
		return fail("agent_deleted", "the agent was deleted")
	}
	provider, err := w.Models.Get(string(agent.Spec.Provider))
	if err != nil {
		return fail("provider", err.Error())
	}
	rec := &busRecorder{bus: w.Bus, env: env, session: c.ID, message: msg.ID}
	topics := []string{"agents:" + c.AgentID, "chats:" + c.ID}
	onText := func(delta string) {
		m := livefeed.Message{Type: "chat.token", Timestamp: time.Now().UTC(), Topics: topics,
			Data: tokenData(c.ID, msg.ID, delta), Stream: livefeed.StreamRef{ID: domain.ChatStreamID(c.ID), Type: domain.StreamTypeChat}}
		if err := livefeed.Transmit(ctx, w.DB, m); err != nil {
			w.Log.Debug().Err(err).Msg("token not streamed")
		}
	}
	var injected *domain.InjectedContext
	// A resumed turn reuses the context its first recorded call had (see Run): no recall.
	resumed := c.Pending != nil && c.Pending.MessageID == msg.ID && len(c.Pending.Calls) > 0
	if w.Recall != nil && !resumed {
		// A failed recall does not fail the answer: the agent answers without long-term
		// memory, and the log says so.
		if injected, err = w.Recall(ctx, c.AgentID, msg.Content); err != nil {
			w.Log.Warn().Err(err).Str("agent_id", c.AgentID).Msg("memory recall failed; answering without long-term memory")
			injected = nil
		}
	}
	content, totals, err := Run(ctx, Turn{Agent: agent, Chat: c, Message: msg, Provider: provider, Tools: w.Tools,
		Record: rec, OnText: onText, Cost: w.Cost, Context: injected})
	var lerr *llm.Error
	switch {
	case errors.As(err, &lerr):
		// The provider already retried what is worth retrying; a job retry would only repeat
		// the same refusal, so the failure is recorded as the answer.
		return fail(string(lerr.Kind), lerr.Message)
	case errors.Is(err, ErrLoopLimit):
		return fail("loop_limit", err.Error())
	case err != nil:
		return err
	}
	_, err = w.Bus.Send(ctx, &commands.CompleteReply{Envelope: env, SessionID: c.ID, MessageID: msg.ID,
		ReplyID: uuid.NewString(), Content: content, Totals: totals})
	return err
}

func tokenData(session, message, delta string) []byte {
	b, _ := jsonMarshal(map[string]string{"session_id": session, "message_id": message, "delta": delta})
	return b
}

// busRecorder records steps as commands, so they go through the same expected-version checks
// as everything else: a retried job cannot record a step twice for the same message.
type busRecorder struct {
	bus              *commands.Bus
	env              commands.Envelope
	session, message string
}

func (r *busRecorder) ModelCalled(ctx context.Context, call domain.ModelCall) error {
	_, err := r.bus.Send(ctx, &commands.RecordModelCall{Envelope: r.env, SessionID: r.session, MessageID: r.message, Call: call})
	if err != nil {
		return fmt.Errorf("record model call: %w", err)
	}
	return nil
}

func (r *busRecorder) ToolCalled(ctx context.Context, tool domain.ToolCallRecord) error {
	_, err := r.bus.Send(ctx, &commands.RecordToolCall{Envelope: r.env, SessionID: r.session, MessageID: r.message, Tool: tool})
	if err != nil {
		return fmt.Errorf("record tool call: %w", err)
	}
	return nil
}
