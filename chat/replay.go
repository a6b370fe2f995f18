package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/sql/dbq"
	"github.com/gathering/gathering/tools"
)

var jsonMarshal = json.Marshal

// ReplayResult compares a session re-run from its recordings with what was recorded.
type ReplayResult struct {
	SessionID  string               `json:"session_id"`
	Transcript []domain.ChatMessage `json:"transcript"`
	Identical  bool                 `json:"identical"`
	// Differences lists where the re-run departed from the recording (a prompt that is built
	// differently today, or a reply that does not match).
	Differences []string `json:"differences,omitempty"`
}

// Replay re-runs every answered message of a session through the same turn logic, with the
// recorded model responses and tool results standing in for the model and the tools. No
// network is touched. The agent is taken as it was when each message was answered.
func Replay(ctx context.Context, sessionEvents []eventlog.Event, agentEvents []eventlog.Event, registry *domain.Registry) (ReplayResult, error) {
	var res ReplayResult
	var recorded, rebuilt domain.Chat
	agent := &domain.Agent{}
	agentAt := 0
	for _, e := range sessionEvents {
		ev, err := registry.Decode(e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return res, err
		}
		// Bring the agent to the state it had at this point of the log.
		for agentAt < len(agentEvents) && agentEvents[agentAt].Cursor().Less(e.Cursor()) {
			aev, err := registry.Decode(agentEvents[agentAt].Type, agentEvents[agentAt].SchemaVersion, agentEvents[agentAt].Payload)
			if err != nil {
				return res, err
			}
			agent.Apply(aev)
			agentAt++
		}
		if reply, ok := ev.(*domain.ChatReplied); ok {
			res.SessionID = rebuilt.ID
			msg, ok := findMessage(rebuilt.Messages, reply.MessageID)
			if !ok {
				return res, fmt.Errorf("reply to unknown message %s", reply.MessageID)
			}
			var calls []domain.ModelCall
			var toolRecs []domain.ToolCallRecord
			if recorded.Pending != nil {
				calls, toolRecs = recorded.Pending.Calls, recorded.Pending.Tools
			}
			fresh := rebuilt
			fresh.Pending = nil
			player := &player{calls: calls}
			// The memory recalled then is taken as recorded: recall today could differ.
			var injected *domain.InjectedContext
			if len(calls) > 0 {
				injected = calls[0].Context
			}
			content, _, err := Run(ctx, Turn{Agent: agent, Chat: &fresh, Message: msg, Provider: player,
				Tools: newRecordedTools(toolRecs, calls), Record: nopRecorder{}, Context: injected})
			if err != nil {
				res.Differences = append(res.Differences, fmt.Sprintf("message %s: %v", msg.ID, err))
			} else if content != reply.Content {
				res.Differences = append(res.Differences, fmt.Sprintf("message %s: reply differs", msg.ID))
			}
			res.Differences = append(res.Differences, player.differences...)
			rebuilt.Apply(&domain.ChatReplied{MessageID: reply.MessageID, ReplyID: reply.ReplyID, Content: content, Totals: reply.Totals})
			recorded.Apply(ev)
			continue
		}
		recorded.Apply(ev)
		switch ev.(type) {
		case *domain.ChatModelCalled, *domain.ChatToolCalled:
			// Re-created by the re-run, not copied.
		default:
			rebuilt.Apply(ev)
		}
	}
	res.SessionID = recorded.ID
	res.Transcript = rebuilt.Messages
	res.Identical = len(res.Differences) == 0 && sameTranscript(recorded.Messages, rebuilt.Messages)
	return res, nil
}

func findMessage(ms []domain.ChatMessage, id string) (domain.ChatMessage, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return domain.ChatMessage{}, false
}

func sameTranscript(a, b []domain.ChatMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// player answers with the recorded responses, in order, and notes any request that differs
// from the recorded one.
type player struct {
	calls       []domain.ModelCall
	next        int
	differences []string
}

var errNoRecording = errors.New("the recording has no further model call")

func (p *player) Name() string { return "replay" }

func (p *player) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	return p.Stream(ctx, req, nil)
}

func (p *player) Stream(_ context.Context, req llm.Request, _ func(string)) (llm.Response, error) {
	if p.next >= len(p.calls) {
		return llm.Response{}, errNoRecording
	}
	call := p.calls[p.next]
	p.next++
	got, _ := json.Marshal(req)
	if !jsonEqual(got, call.Request) {
		p.differences = append(p.differences, fmt.Sprintf("step %d: the prompt differs from the recorded one", call.Step))
	}
	var resp llm.Response
	err := json.Unmarshal(call.Response, &resp)
	return resp, err
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(ax) == string(by)
}

// recordedTools answers tool calls from the recording and offers the tools the recorded prompt
// offered.
type recordedTools struct {
	records []domain.ToolCallRecord
	specs   []llm.ToolSpec
}

func newRecordedTools(records []domain.ToolCallRecord, calls []domain.ModelCall) recordedTools {
	r := recordedTools{records: records}
	if len(calls) > 0 {
		var req llm.Request
		if json.Unmarshal(calls[0].Request, &req) == nil {
			r.specs = req.Tools
		}
	}
	return r
}

func (r recordedTools) Specs([]string) []llm.ToolSpec { return r.specs }

func (r recordedTools) Call(_ context.Context, call llm.ToolCall, _ []string) tools.Result {
	for _, rec := range r.records {
		if rec.ToolCallID == call.ID {
			return tools.Result{CallID: rec.ToolCallID, Name: rec.Name, Output: rec.Output, IsError: rec.IsError, Error: rec.Error}
		}
	}
	return tools.Result{CallID: call.ID, Name: call.Name, IsError: true, Error: "not in the recording"}
}

type nopRecorder struct{}

func (nopRecorder) ModelCalled(context.Context, domain.ModelCall) error     { return nil }
func (nopRecorder) ToolCalled(context.Context, domain.ToolCallRecord) error { return nil }

// ReplaySession loads a session and its agent from the log and replays it.
func ReplaySession(ctx context.Context, store *eventlog.Store, db dbq.DBTX, sessionID string) (ReplayResult, error) {
	sessionEvents, _, err := store.Load(ctx, db, domain.ChatStreamID(sessionID))
	if err != nil {
		return ReplayResult{}, err
	}
	if len(sessionEvents) == 0 {
		return ReplayResult{}, domain.Errorf(domain.CodeNotFound, "chat session %s not found", sessionID)
	}
	started, err := domain.Events.Decode(sessionEvents[0].Type, sessionEvents[0].SchemaVersion, sessionEvents[0].Payload)
	if err != nil {
		return ReplayResult{}, err
	}
	agentID := ""
	if st, ok := started.(*domain.ChatStarted); ok {
		agentID = st.AgentID
	}
	agentEvents, _, err := store.Load(ctx, db, domain.AgentStreamID(agentID))
	if err != nil {
		return ReplayResult{}, err
	}
	return Replay(ctx, sessionEvents, agentEvents, domain.Events)
}
