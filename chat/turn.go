// Package chat answers the messages people post to agents: a leased job builds the prompt from
// the session so far, calls the agent's model (streaming its tokens to live clients), runs the
// tools the model asks for, and records every step as an event. Because every response is in
// the log, a session can also be replayed without any model.
package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/tools"
)

// Tools is what a turn needs of the tool registry.
type Tools interface {
	Specs(allowed []string) []llm.ToolSpec
	Call(ctx context.Context, call llm.ToolCall, allowed []string) tools.Result
}

// Recorder persists each step as it happens; an error stops the turn (the job retries it).
type Recorder interface {
	ModelCalled(ctx context.Context, call domain.ModelCall) error
	ToolCalled(ctx context.Context, tool domain.ToolCallRecord) error
}

// Turn is the answer to one user message.
type Turn struct {
	Agent    *domain.Agent
	Chat     *domain.Chat // the session, with any steps already recorded for this message
	Message  domain.ChatMessage
	Provider llm.Provider
	Tools    Tools
	Record   Recorder
	OnText   func(delta string)
	// History is how many earlier messages go back to the model (default 20).
	History int
	// Cost prices a call; nil means unpriced.
	Cost func(provider, model string, u llm.Usage) float64
	// Now is the clock used for latencies (replay passes the recorded ones through instead).
	Now func() time.Time
	// Context is recalled memory and knowledge for the system prompt. A turn that resumes
	// (or replays) takes the context its first recorded call had instead, so the prompt is
	// the one recorded.
	Context *domain.InjectedContext
}

// ErrLoopLimit ends a turn whose model kept asking for tools.
var ErrLoopLimit = fmt.Errorf("stopped after %d model calls without a final answer", domain.MaxChatSteps)

// Run answers the message. Steps recorded before (a crash interrupted the job) are not
// repeated: their responses and tool results are taken from the session.
func Run(ctx context.Context, t Turn) (string, domain.ChatTotals, error) {
	if t.History <= 0 {
		t.History = 20
	}
	if t.Now == nil {
		t.Now = time.Now
	}
	req := BaseRequest(t.Agent, t.Chat, t.Message, t.History)
	req.Tools = t.Tools.Specs(t.Agent.Spec.Tools)
	var totals domain.ChatTotals
	var recordedCalls []domain.ModelCall
	var recordedTools []domain.ToolCallRecord
	if p := t.Chat.Pending; p != nil && p.MessageID == t.Message.ID {
		recordedCalls, recordedTools = p.Calls, p.Tools
	}
	injected := t.Context
	if len(recordedCalls) > 0 {
		injected = recordedCalls[0].Context
	}
	if injected != nil && injected.Block != "" {
		req.System += "\n\n" + injected.Block
	}
	for step := 0; step < domain.MaxChatSteps; step++ {
		var resp llm.Response
		if step < len(recordedCalls) {
			rc := recordedCalls[step]
			if err := json.Unmarshal(rc.Response, &resp); err != nil {
				return "", totals, fmt.Errorf("recorded response of step %d: %w", step, err)
			}
			addCall(&totals, rc)
		} else {
			started := t.Now()
			var err error
			resp, err = t.Provider.Stream(ctx, req, func(d string) {
				if t.OnText != nil {
					t.OnText(d)
				}
			})
			if err != nil {
				return "", totals, err
			}
			reqJSON, _ := json.Marshal(req)
			respJSON, _ := json.Marshal(resp)
			call := domain.ModelCall{Step: step, Provider: t.Provider.Name(), Model: req.Model, Request: reqJSON, Response: respJSON,
				InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens, LatencyMS: t.Now().Sub(started).Milliseconds()}
			if step == 0 {
				call.Context = injected
			}
			if t.Cost != nil {
				call.CostUSD = t.Cost(call.Provider, call.Model, resp.Usage)
			}
			if err := t.Record.ModelCalled(ctx, call); err != nil {
				return "", totals, err
			}
			addCall(&totals, call)
		}
		if len(resp.ToolCalls) == 0 || resp.StopReason != llm.StopToolUse {
			return resp.Content, totals, nil
		}
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls})
		for _, call := range resp.ToolCalls {
			rec, done := findTool(recordedTools, call.ID)
			if !done {
				// Skills act in the calling agent's own workspace: they need to know who calls.
				res := t.Tools.Call(tools.WithCaller(ctx, tools.Caller{AgentID: t.Agent.ID}), call, t.Agent.Spec.Tools)
				rec = domain.ToolCallRecord{Step: step, ToolCallID: call.ID, Name: call.Name, Arguments: call.Arguments,
					Output: res.Output, IsError: res.IsError, Error: res.Error, DurationMS: res.Duration.Milliseconds()}
				if err := t.Record.ToolCalled(ctx, rec); err != nil {
					return "", totals, err
				}
			}
			totals.ToolCalls++
			req.Messages = append(req.Messages, toolMessage(rec))
		}
	}
	return "", totals, ErrLoopLimit
}

func addCall(t *domain.ChatTotals, c domain.ModelCall) {
	t.Steps++
	t.InputTokens += c.InputTokens
	t.OutputTokens += c.OutputTokens
	t.CostUSD += c.CostUSD
	t.LatencyMS += c.LatencyMS
}

func findTool(recorded []domain.ToolCallRecord, id string) (domain.ToolCallRecord, bool) {
	for _, r := range recorded {
		if r.ToolCallID == id {
			return r, true
		}
	}
	return domain.ToolCallRecord{}, false
}

// toolMessage is the result of a tool call as the model sees it.
func toolMessage(r domain.ToolCallRecord) llm.Message {
	content := string(r.Output)
	if r.IsError {
		content = r.Error
	}
	return llm.Message{Role: llm.RoleTool, ToolCallID: r.ToolCallID, Name: r.Name, Content: content, IsError: r.IsError}
}

// BaseRequest is the prompt for answering msg: the agent's system prompt and personality, then
// up to history earlier messages of the session, then msg.
func BaseRequest(a *domain.Agent, c *domain.Chat, msg domain.ChatMessage, history int) llm.Request {
	var earlier []llm.Message
	for _, m := range c.Messages {
		if m.ID == msg.ID {
			break
		}
		role := llm.RoleUser
		if m.Role == "assistant" {
			role = llm.RoleAssistant
		}
		earlier = append(earlier, llm.Message{Role: role, Content: m.Content})
	}
	if len(earlier) > history {
		earlier = earlier[len(earlier)-history:]
	}
	temp := a.Spec.Personality.Temperature
	return llm.Request{Model: a.Spec.Model, System: SystemPrompt(a), Messages: append(earlier, llm.Message{Role: llm.RoleUser, Content: msg.Content}),
		Temperature: &temp, MaxTokens: a.Spec.Personality.MaxTokens}
}

// SystemPrompt is what the agent is told about itself.
func SystemPrompt(a *domain.Agent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are %s, %s.", a.Spec.Name, a.Spec.Role)
	if p := a.Spec.Personality; len(p.Traits) > 0 {
		fmt.Fprintf(&b, " Your traits: %s.", strings.Join(p.Traits, ", "))
	}
	if s := a.Spec.Personality.CommunicationStyle; s != "" {
		fmt.Fprintf(&b, " Communication style: %s.", s)
	}
	if a.Spec.SystemPrompt != "" {
		b.WriteString("\n\n")
		b.WriteString(a.Spec.SystemPrompt)
	}
	return b.String()
}
