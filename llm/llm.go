// Package llm talks to language models: OpenAI and OpenAI-compatible servers, Anthropic,
// Ollama, and the built-in offline model. Every provider speaks the same small vocabulary
// below, so agents, tools and recordings never depend on one vendor's wire format.
package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Role is who speaks a message.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation with a model.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and Name identify the call a tool message answers; IsError marks a failed call
	// (its Content explains the failure to the model).
	ToolCallID string `json:"tool_call_id,omitempty"`
	Name       string `json:"name,omitempty"`
	IsError    bool   `json:"is_error,omitempty"`
}

// ToolCall is a model's request to run a tool. ID is the provider's id for the call, echoed in
// the tool's result so the provider can pair them.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ToolSpec describes a tool to the model; Parameters is a JSON Schema object.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// Request is one call to a model.
type Request struct {
	Model       string     `json:"model"`
	System      string     `json:"system,omitempty"`
	Messages    []Message  `json:"messages"`
	Tools       []ToolSpec `json:"tools,omitempty"`
	Temperature *float64   `json:"temperature,omitempty"`
	MaxTokens   int        `json:"max_tokens,omitempty"`
}

// StopReason says why a model stopped.
type StopReason string

const (
	StopEnd       StopReason = "end"        // finished its answer
	StopToolUse   StopReason = "tool_use"   // wants tool results before going on
	StopMaxTokens StopReason = "max_tokens" // cut off by the token limit
	StopOther     StopReason = "other"      // content filter, stop sequence, ...
)

// Usage counts tokens of one call.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Response is a model's complete answer to one Request.
type Response struct {
	Model      string     `json:"model"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	StopReason StopReason `json:"stop_reason"`
	Usage      Usage      `json:"usage"`
	// ID is the provider's id for the response, when it gives one.
	ID string `json:"id,omitempty"`
}

// Provider is one model vendor.
type Provider interface {
	// Name is the provider's catalog name: openai, anthropic, ollama, offline.
	Name() string
	// Complete sends req and returns the whole answer.
	Complete(ctx context.Context, req Request) (Response, error)
	// Stream sends req, calls onText with each piece of text as it arrives, and returns the
	// whole answer (text and tool calls assembled) when the model is done.
	Stream(ctx context.Context, req Request, onText func(delta string)) (Response, error)
}

// ErrorKind classifies a provider failure.
type ErrorKind string

const (
	ErrMissingKey  ErrorKind = "missing_key"  // no API key configured
	ErrAuth        ErrorKind = "auth"         // the key was refused (401/403)
	ErrRateLimited ErrorKind = "rate_limited" // 429 after the retries
	ErrUnavailable ErrorKind = "unavailable"  // 5xx or connection failure after the retries
	ErrBadRequest  ErrorKind = "bad_request"  // the provider rejected the request (400/404/422)
	ErrTimeout     ErrorKind = "timeout"
)

// Error is a provider failure with a message that is safe to show (never a key).
type Error struct {
	Provider   string
	Kind       ErrorKind
	Status     int
	RetryAfter time.Duration
	Message    string
	Err        error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Provider, e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }
