// Package conversations runs circle conversations: a leased job takes turn after turn outside
// any transaction, asks each speaker's model with the conversation so far, streams its tokens
// to the circle's feed and records the turn, until the conversation ends and says why.
package conversations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
)

// Worker is the River worker of ConversationRun jobs.
type Worker struct {
	river.WorkerDefaults[commands.ConversationRun]
	Repo   *commands.Repository
	Bus    *commands.Bus
	DB     *sql.DB
	Models chat.Models
	Log    zerolog.Logger
	Now    func() time.Time
	// Recall, when set, gives each speaker its relevant long-term memory and knowledge.
	Recall func(ctx context.Context, agentID, text string) (*domain.InjectedContext, error)
}

// Timeout covers a long conversation; its own time limit is checked between turns.
func (w *Worker) Timeout(*river.Job[commands.ConversationRun]) time.Duration { return 24 * time.Hour }

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Work takes turns until the conversation has ended. Each turn reloads the conversation, so a
// person's post or stop is seen before the next turn, and a job retried after a crash goes on
// after the last recorded turn (the domain refuses a turn number twice).
func (w *Worker) Work(ctx context.Context, job *river.Job[commands.ConversationRun]) error {
	id := job.Args.ConversationID
	for {
		conv, events, err := w.Repo.LoadConversation(ctx, id)
		if err != nil {
			return err
		}
		if conv.Version == 0 || conv.Ended {
			return nil
		}
		env := commands.NewEnvelope(domain.System, "")
		env.Context = map[string]string{livefeed.MetadataCircle: conv.Spec.CircleID}
		end := func(reason domain.EndReason, detail string) error {
			_, err := w.Bus.Send(ctx, &commands.EndConversation{Envelope: env, ConversationID: id, Reason: reason, Detail: detail})
			if domain.ErrorCode(err) == domain.CodeConflict {
				return nil
			}
			return err
		}
		if limit := conv.Spec.TimeLimitSec; limit > 0 && w.now().After(events[0].OccurredAt.Add(time.Duration(limit)*time.Second)) {
			return end(domain.EndTimeLimit, fmt.Sprintf("%d seconds", limit))
		}
		speaker, ok := conv.NextSpeaker()
		if !ok {
			if speaker, err = w.selectSpeaker(ctx, conv); err != nil {
				if ctx.Err() != nil {
					return err // the job was cancelled, not the model: a retry chooses again
				}
				return end(domain.EndFailed, "choosing the next speaker: "+err.Error())
			}
		}
		content, injected, err := w.turn(ctx, conv, speaker)
		var lerr *llm.Error
		switch {
		case err != nil && ctx.Err() != nil:
			// The job itself was cancelled (shutdown, lost lease, timeout) and the provider
			// reports that as its own failure: end nothing, the retried job takes the turn again.
			return err
		case errors.As(err, &lerr):
			return end(domain.EndFailed, string(lerr.Kind)+": "+lerr.Message)
		case err != nil:
			return err
		}
		env.Context[livefeed.MetadataAgent] = speaker
		_, err = w.Bus.Send(ctx, &commands.TakeTurn{Envelope: env, ConversationID: id, Number: len(conv.Turns) + 1,
			SpeakerID: speaker, Content: content, SeenPosts: len(conv.Messages), Recalled: injected})
		if err != nil && domain.ErrorCode(err) != domain.CodeConflict {
			return err
		}
	}
}

// turn asks speaker's model for its contribution, streaming its tokens to the circle's feed.
func (w *Worker) turn(ctx context.Context, conv *domain.Conversation, speaker string) (string, *domain.InjectedContext, error) {
	agent, err := w.Repo.LoadAgent(ctx, speaker)
	if err != nil {
		return "", nil, err
	}
	if !agent.Exists() {
		return "", nil, &llm.Error{Provider: "gathering", Kind: llm.ErrBadRequest, Message: "participant " + speaker + " was deleted"}
	}
	provider, err := w.Models.Get(string(agent.Spec.Provider))
	if err != nil {
		return "", nil, &llm.Error{Provider: string(agent.Spec.Provider), Kind: llm.ErrBadRequest, Message: err.Error()}
	}
	system := chat.SystemPrompt(agent) + "\n\n" + briefing(conv)
	var injected *domain.InjectedContext
	if w.Recall != nil {
		if injected, err = w.Recall(ctx, speaker, conv.Spec.Topic+"\n"+conv.LastText()); err != nil {
			w.Log.Warn().Err(err).Str("agent_id", speaker).Msg("memory recall failed; the turn goes on without long-term memory")
			injected = nil
		} else if injected != nil {
			system += "\n\n" + injected.Block
		}
	}
	temp := agent.Spec.Personality.Temperature
	req := llm.Request{Model: agent.Spec.Model, System: system,
		Messages: transcript(conv, speaker), Temperature: &temp, MaxTokens: agent.Spec.Personality.MaxTokens}
	topics := []string{"conversations:" + conv.ID, "circles:" + conv.Spec.CircleID}
	resp, err := provider.Stream(ctx, req, func(delta string) {
		m := livefeed.Message{Type: "conversation.token", Timestamp: time.Now().UTC(), Topics: topics,
			Data:   []byte(fmt.Sprintf(`{"conversation_id":%q,"speaker_id":%q,"delta":%q}`, conv.ID, speaker, delta)),
			Stream: livefeed.StreamRef{ID: domain.ConversationStreamID(conv.ID), Type: domain.StreamTypeConversation}}
		if err := livefeed.Transmit(ctx, w.DB, m); err != nil {
			w.Log.Debug().Err(err).Msg("token not streamed")
		}
	})
	if err != nil {
		return "", nil, err
	}
	return resp.Content, injected, nil
}

// selectSpeaker asks the first participant's model who should speak next.
func (w *Worker) selectSpeaker(ctx context.Context, conv *domain.Conversation) (string, error) {
	selector, err := w.Repo.LoadAgent(ctx, conv.Spec.Participants[0].AgentID)
	if err != nil {
		return "", err
	}
	provider, err := w.Models.Get(string(selector.Spec.Provider))
	if err != nil {
		return "", err
	}
	var names []string
	for _, p := range conv.Spec.Participants {
		names = append(names, p.Name)
	}
	msgs := transcript(conv, "")
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: "Who should speak next? Answer with exactly one name from: " + strings.Join(names, ", ") + "."})
	resp, err := provider.Complete(ctx, llm.Request{Model: selector.Spec.Model, System: "You choose the next speaker of a conversation.", Messages: msgs, MaxTokens: 20})
	if err != nil {
		return "", err
	}
	return conv.ParseSelection(resp.Content), nil
}

func briefing(conv *domain.Conversation) string {
	var names []string
	for _, p := range conv.Spec.Participants {
		names = append(names, "@"+strings.ReplaceAll(p.Name, " ", ""))
	}
	return fmt.Sprintf("You take part in a conversation about: %s. Participants: %s. Keep each turn short, hand over by "+
		"mentioning @Name, and write [DONE] once the conversation reached its goal.", conv.Spec.Topic, strings.Join(names, ", "))
}

// transcript is the conversation so far as the speaker sees it: its own turns as its own
// messages, everyone else's (agents and people) as named user messages, in order.
func transcript(conv *domain.Conversation, speaker string) []llm.Message {
	name := map[string]string{}
	for _, p := range conv.Spec.Participants {
		name[p.AgentID] = p.Name
	}
	opening := conv.Spec.InitialPrompt
	if opening == "" {
		opening = "Let us discuss: " + conv.Spec.Topic
	}
	msgs := []llm.Message{{Role: llm.RoleUser, Content: opening}}
	posted := func(after int) {
		for _, m := range conv.Messages {
			if m.AfterTurn == after {
				msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: "A person says: " + m.Content})
			}
		}
	}
	posted(0)
	for _, t := range conv.Turns {
		if t.SpeakerID == speaker {
			msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: t.Content})
		} else {
			msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: name[t.SpeakerID] + ": " + t.Content})
		}
		posted(t.Number)
	}
	return msgs
}
