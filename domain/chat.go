package domain

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A chat session is one person talking with one agent. Its stream records every message, every
// model call with its full response, and every tool call with its result, so a session can be
// watched live, resumed after a crash without calling the model again for a recorded step, and
// replayed exactly without any model at all.
const (
	StreamTypeChat = "chat"

	EventChatStarted       = "chat.started"
	EventChatMessagePosted = "chat.message_posted"
	EventChatModelCalled   = "chat.model_called"
	EventChatToolCalled    = "chat.tool_called"
	EventChatReplied       = "chat.replied"
	EventChatFailed        = "chat.failed"

	MaxChatMessageLen = 20000
	// MaxChatSteps bounds the model calls of one reply: a model that keeps asking for tools
	// is stopped rather than looping forever.
	MaxChatSteps = 8
)

// ChatStreamID returns the log stream of one chat session.
func ChatStreamID(id string) string { return "chat-" + id }

// ChatMessage is one message of the transcript.
type ChatMessage struct {
	ID      string `json:"id"`
	Role    string `json:"role"` // user or assistant
	Content string `json:"content"`
}

// ModelCall is one recorded call to a model. Request and Response are stored whole: a replay
// reads Response instead of calling the model.
type ModelCall struct {
	Step         int             `json:"step"`
	Provider     string          `json:"provider"`
	Model        string          `json:"model"`
	Request      json.RawMessage `json:"request"`
	Response     json.RawMessage `json:"response"`
	InputTokens  int             `json:"input_tokens"`
	OutputTokens int             `json:"output_tokens"`
	CostUSD      float64         `json:"cost_usd"`
	LatencyMS    int64           `json:"latency_ms"`
	// Context is the long-term memory and knowledge the turn's prompt was given (first call
	// of a turn only), so what the agent knew is part of the record and replays exactly.
	Context *InjectedContext `json:"context,omitempty"`
}

// InjectedContext is what recall added to a prompt: the text block and where it came from.
type InjectedContext struct {
	Block  string        `json:"block"`
	Items  []ContextItem `json:"items"`
	Tokens int           `json:"tokens"`
}

// ContextItem is one recalled memory or knowledge chunk.
type ContextItem struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	Source string  `json:"source,omitempty"`
	Score  float64 `json:"score"`
}

// ToolCallRecord is one recorded tool call and its result.
type ToolCallRecord struct {
	Step       int             `json:"step"`
	ToolCallID string          `json:"tool_call_id"`
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Output     json.RawMessage `json:"output,omitempty"`
	IsError    bool            `json:"is_error"`
	Error      string          `json:"error,omitempty"`
	DurationMS int64           `json:"duration_ms"`
}

// Chat is the aggregate of a session.
type Chat struct {
	ID       string
	AgentID  string
	Owner    string
	Version  int64
	Messages []ChatMessage
	// Pending is the user message being answered now, if any, with the steps recorded for it.
	Pending *PendingReply
	// answered holds the user messages that got a reply or a recorded failure.
	answered map[string]bool
}

// PendingReply is an answer in progress.
type PendingReply struct {
	MessageID string
	Calls     []ModelCall
	Tools     []ToolCallRecord
}

// Apply folds one event into the session.
func (c *Chat) Apply(e Event) {
	c.Version++
	switch ev := e.(type) {
	case *ChatStarted:
		c.ID, c.AgentID, c.Owner = ev.ID, ev.AgentID, ev.Owner
	case *ChatMessagePosted:
		c.Messages = append(c.Messages, ChatMessage{ID: ev.MessageID, Role: "user", Content: ev.Content})
	case *ChatModelCalled:
		c.pending(ev.MessageID).Calls = append(c.pending(ev.MessageID).Calls, ev.Call)
	case *ChatToolCalled:
		c.pending(ev.MessageID).Tools = append(c.pending(ev.MessageID).Tools, ev.Tool)
	case *ChatReplied:
		c.Messages = append(c.Messages, ChatMessage{ID: ev.ReplyID, Role: "assistant", Content: ev.Content})
		c.markAnswered(ev.MessageID)
	case *ChatFailed:
		c.markAnswered(ev.MessageID)
	}
}

func (c *Chat) markAnswered(messageID string) {
	if c.answered == nil {
		c.answered = map[string]bool{}
	}
	c.answered[messageID] = true
	c.Pending = nil
}

func (c *Chat) pending(messageID string) *PendingReply {
	if c.Pending == nil || c.Pending.MessageID != messageID {
		c.Pending = &PendingReply{MessageID: messageID}
	}
	return c.Pending
}

// Unanswered returns the user messages that have no reply yet, oldest first.
func (c *Chat) Unanswered() []ChatMessage {
	var out []ChatMessage
	for _, m := range c.Messages {
		if m.Role == "user" && !c.answered[m.ID] {
			out = append(out, m)
		}
	}
	return out
}

// AccessibleBy lets the session's owner and admins in.
func (c *Chat) AccessibleBy(actor Actor) bool { return actor.IsAdmin() || c.Owner == actor.ID }

// Post records a user message, opening the session if it is new.
func (c *Chat) Post(actor Actor, sessionID, agentID, messageID, content string) ([]Event, error) {
	content = strings.TrimSpace(content)
	var v Validation
	switch n := utf8.RuneCountInString(content); {
	case n == 0:
		v.Add("message", "is required")
	case n > MaxChatMessageLen:
		v.Add("message", "must be at most %d characters (got %d)", MaxChatMessageLen, n)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var events []Event
	if c.Version == 0 {
		events = append(events, &ChatStarted{ID: sessionID, AgentID: agentID, Owner: actor.ID})
	} else {
		if !c.AccessibleBy(actor) {
			return nil, Errorf(CodeForbidden, "this chat session is not yours")
		}
		if c.AgentID != agentID {
			return nil, &Error{Code: CodeInvalid, Message: "session_id: belongs to another agent",
				Fields: []FieldError{{Field: "session_id", Message: "belongs to another agent"}}}
		}
	}
	return append(events, &ChatMessagePosted{MessageID: messageID, Content: content, By: actor.ID}), nil
}

// RecordModelCall records one model call made while answering messageID.
func (c *Chat) RecordModelCall(messageID string, call ModelCall) ([]Event, error) {
	if err := c.answering(messageID); err != nil {
		return nil, err
	}
	return []Event{&ChatModelCalled{MessageID: messageID, Call: call}}, nil
}

// RecordToolCall records one tool call made while answering messageID.
func (c *Chat) RecordToolCall(messageID string, tool ToolCallRecord) ([]Event, error) {
	if err := c.answering(messageID); err != nil {
		return nil, err
	}
	return []Event{&ChatToolCalled{MessageID: messageID, Tool: tool}}, nil
}

// Reply completes the answer to messageID.
func (c *Chat) Reply(messageID, replyID, content string, totals ChatTotals) ([]Event, error) {
	if err := c.answering(messageID); err != nil {
		return nil, err
	}
	return []Event{&ChatReplied{MessageID: messageID, ReplyID: replyID, Content: content, Totals: totals}}, nil
}

// Fail ends the answer to messageID with a reason.
func (c *Chat) Fail(messageID, kind, message string) ([]Event, error) {
	if err := c.answering(messageID); err != nil {
		return nil, err
	}
	return []Event{&ChatFailed{MessageID: messageID, Kind: kind, Message: message}}, nil
}

// answering refuses to record work for a message that is not the oldest unanswered one: a
// retried job must not record a second answer.
func (c *Chat) answering(messageID string) error {
	open := c.Unanswered()
	if len(open) == 0 || open[0].ID != messageID {
		return Errorf(CodeConflict, "message %s is not awaiting an answer", messageID)
	}
	return nil
}

// ChatTotals sums one reply.
type ChatTotals struct {
	Steps        int     `json:"steps"`
	ToolCalls    int     `json:"tool_calls"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	LatencyMS    int64   `json:"latency_ms"`
}

type ChatStarted struct {
	ID      string `json:"id"`
	AgentID string `json:"agent_id"`
	Owner   string `json:"owner"`
}

func (*ChatStarted) EventType() string { return EventChatStarted }

type ChatMessagePosted struct {
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
	By        string `json:"by"`
}

func (*ChatMessagePosted) EventType() string { return EventChatMessagePosted }

type ChatModelCalled struct {
	MessageID string    `json:"message_id"`
	Call      ModelCall `json:"call"`
}

func (*ChatModelCalled) EventType() string { return EventChatModelCalled }

type ChatToolCalled struct {
	MessageID string         `json:"message_id"`
	Tool      ToolCallRecord `json:"tool"`
}

func (*ChatToolCalled) EventType() string { return EventChatToolCalled }

type ChatReplied struct {
	MessageID string     `json:"message_id"`
	ReplyID   string     `json:"reply_id"`
	Content   string     `json:"content"`
	Totals    ChatTotals `json:"totals"`
}

func (*ChatReplied) EventType() string { return EventChatReplied }

type ChatFailed struct {
	MessageID string `json:"message_id"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
}

func (*ChatFailed) EventType() string { return EventChatFailed }

func chatEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventChatStarted, func() Event { return &ChatStarted{} }),
		spec(EventChatMessagePosted, func() Event { return &ChatMessagePosted{} }),
		spec(EventChatModelCalled, func() Event { return &ChatModelCalled{} }),
		spec(EventChatToolCalled, func() Event { return &ChatToolCalled{} }),
		spec(EventChatReplied, func() Event { return &ChatReplied{} }),
		spec(EventChatFailed, func() Event { return &ChatFailed{} }),
	}
}
