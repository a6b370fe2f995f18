package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/livefeed"
)

type chatInput struct {
	Message   string `json:"message"`
	SessionID string `json:"session_id"`
	// Wait false answers 202 at once; the reply then arrives on the live feeds.
	Wait *bool `json:"wait"`
}

// chatToolCall is one tool call of a reply, with its result.
type chatToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Output    json.RawMessage `json:"output,omitempty"`
	IsError   bool            `json:"is_error"`
	Error     string          `json:"error,omitempty"`
}

type chatReply struct {
	SessionID string            `json:"session_id"`
	MessageID string            `json:"message_id"`
	Status    string            `json:"status"` // answered, failed, pending
	Content   string            `json:"content"`
	ToolCalls []chatToolCall    `json:"tool_calls"`
	Usage     domain.ChatTotals `json:"usage"`
	Position  int64             `json:"position"`
}

// chat posts a message to an agent and, unless told not to wait, answers with the agent's reply
// once the job that produced it has recorded it. Tokens stream meanwhile on /ws/agents/{id}.
func (s *Server) chat(c *fiber.Ctx) error {
	var in chatInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	agent, err := s.visibleAgent(c, c.Params("id"))
	if err != nil {
		return err
	}
	session := in.SessionID
	if session == "" {
		session = uuid.NewString()
	} else if _, err := uuid.Parse(session); err != nil {
		return invalid("session_id", "must be a session id returned by this API")
	}
	messageID := uuid.NewString()
	// Listen before posting, so the reply cannot slip past between the two.
	sub, err := s.deps.Hub.Subscribe(c.UserContext(), []string{"chats:" + session}, nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	env := envelope(c)
	env.Context[livefeed.MetadataAgent] = agent.ID
	if _, err := s.deps.Bus.Send(c.UserContext(), &commands.PostChatMessage{Envelope: env, SessionID: session,
		AgentID: agent.ID, MessageID: messageID, Content: in.Message}); err != nil {
		return err
	}
	if in.Wait != nil && !*in.Wait {
		return c.Status(http.StatusAccepted).JSON(chatReply{SessionID: session, MessageID: messageID, Status: "pending", ToolCalls: []chatToolCall{}})
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.deps.ChatTimeout)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return &domain.Error{Code: domain.CodeTimeout, Message: "the agent is still answering; follow /ws/agents/" + agent.ID + " or read GET /chats/" + session}
		case <-sub.Done():
			return &domain.Error{Code: domain.CodeUnavailable, Message: "the server is shutting down"}
		case m := <-sub.C():
			if m.Type != domain.EventChatReplied && m.Type != domain.EventChatFailed {
				continue
			}
			var ref struct {
				MessageID string `json:"message_id"`
			}
			if json.Unmarshal(m.Data, &ref) != nil || ref.MessageID != messageID {
				continue
			}
			return s.answerChat(c, session, messageID)
		}
	}
}

// answerChat builds the reply from the session's stream: the content, every tool call with its
// result, and the totals; a failed reply becomes the error it was.
func (s *Server) answerChat(c *fiber.Ctx, session, messageID string) error {
	events, _, err := s.deps.Store.Load(c.UserContext(), s.deps.DB.SQL, domain.ChatStreamID(session))
	if err != nil {
		return err
	}
	out := chatReply{SessionID: session, MessageID: messageID, Status: "pending", ToolCalls: []chatToolCall{}}
	for _, e := range events {
		ev, err := domain.Events.Decode(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return err
		}
		switch ev := ev.(type) {
		case *domain.ChatToolCalled:
			if ev.MessageID == messageID {
				t := ev.Tool
				out.ToolCalls = append(out.ToolCalls, chatToolCall{ID: t.ToolCallID, Name: t.Name, Arguments: t.Arguments,
					Output: t.Output, IsError: t.IsError, Error: t.Error})
			}
		case *domain.ChatReplied:
			if ev.MessageID == messageID {
				out.Status, out.Content, out.Usage, out.Position = "answered", ev.Content, ev.Totals, e.Position
			}
		case *domain.ChatFailed:
			if ev.MessageID == messageID {
				return failedReply(ev)
			}
		}
	}
	if out.Position > 0 {
		if err := s.waitFor(c, "chats", commands.Result{Position: out.Position, TxID: cursorTx(events, out.Position)}); err != nil {
			return err
		}
	}
	return c.JSON(out)
}

func cursorTx(events []eventlog.Event, position int64) int64 {
	for _, e := range events {
		if e.Position == position {
			return e.TxID
		}
	}
	return 0
}

// failedReply turns a recorded failure into the error a client sees: a missing or refused key
// and the provider's own failures are the provider's (502), a runaway tool loop is ours.
func failedReply(ev *domain.ChatFailed) error {
	code := domain.CodeUpstream
	switch ev.Kind {
	case "agent_deleted":
		code = domain.CodeNotFound
	case "loop_limit":
		code = domain.CodeConflict
	}
	return &domain.Error{Code: code, Message: strings.TrimSpace(ev.Kind + ": " + ev.Message)}
}

// visibleChat returns a session the caller may read.
func (s *Server) visibleChat(c *fiber.Ctx) (string, error) {
	view, err := s.deps.Chats.Session(c.UserContext(), c.Params("id"))
	if err != nil {
		return "", err
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && view.Owner != p.UserID {
		return "", domain.Errorf(domain.CodeForbidden, "this chat session is not yours")
	}
	return view.ID, nil
}

func (s *Server) getChat(c *fiber.Ctx) error {
	if _, err := s.visibleChat(c); err != nil {
		return err
	}
	view, err := s.deps.Chats.Session(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(view)
}

// replayChat re-runs a session from its recordings, without any model, and says whether the
// transcript comes out identical.
func (s *Server) replayChat(c *fiber.Ctx) error {
	id, err := s.visibleChat(c)
	if err != nil {
		return err
	}
	res, err := chat.ReplaySession(c.UserContext(), s.deps.Store, s.deps.DB.SQL, id)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) agentUsage(c *fiber.Ctx) error {
	if _, err := s.visibleAgent(c, c.Params("id")); err != nil {
		return err
	}
	u, err := s.deps.Chats.Usage(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(u)
}
