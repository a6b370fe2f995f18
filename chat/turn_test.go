package chat

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/tools"
)

// scripted answers from a script and counts the calls that reached it.
type scripted struct {
	responses []llm.Response
	calls     int
}

func (s *scripted) Name() string { return "scripted" }
func (s *scripted) Complete(ctx context.Context, r llm.Request) (llm.Response, error) {
	return s.Stream(ctx, r, nil)
}
func (s *scripted) Stream(_ context.Context, _ llm.Request, onText func(string)) (llm.Response, error) {
	r := s.responses[s.calls]
	s.calls++
	if onText != nil && r.Content != "" {
		onText(r.Content)
	}
	return r, nil
}

type memRecorder struct {
	calls []domain.ModelCall
	tools []domain.ToolCallRecord
}

func (m *memRecorder) ModelCalled(_ context.Context, c domain.ModelCall) error {
	m.calls = append(m.calls, c)
	return nil
}
func (m *memRecorder) ToolCalled(_ context.Context, t domain.ToolCallRecord) error {
	m.tools = append(m.tools, t)
	return nil
}

func agentWithCalculator() *domain.Agent {
	a := &domain.Agent{}
	evs, _ := a.Create("a1", domain.AgentSpec{Name: "Calc", Tools: []string{"calculator"}}, "u1")
	a.Apply(evs[0])
	return a
}

func session(msg string) (*domain.Chat, domain.ChatMessage) {
	c := &domain.Chat{}
	evs, _ := c.Post(domain.Actor{ID: "u1", Role: domain.RoleMember}, "s1", "a1", "m1", msg)
	for _, e := range evs {
		c.Apply(e)
	}
	return c, c.Messages[0]
}

var toolRound = []llm.Response{
	{Content: "", StopReason: llm.StopToolUse, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "calculator", Arguments: json.RawMessage(`{"expression":"6*7"}`)}},
		Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}},
	{Content: "It is 42.", StopReason: llm.StopEnd, Usage: llm.Usage{InputTokens: 20, OutputTokens: 4}},
}

func TestRunLoopsThroughToolsAndRecordsEveryStep(t *testing.T) {
	c, msg := session("what is 6*7?")
	model := &scripted{responses: toolRound}
	rec := &memRecorder{}
	var streamed string
	content, totals, err := Run(context.Background(), Turn{Agent: agentWithCalculator(), Chat: c, Message: msg, Provider: model,
		Tools: tools.Default(tools.Options{}), Record: rec, OnText: func(d string) { streamed += d }})
	if err != nil {
		t.Fatal(err)
	}
	if content != "It is 42." || streamed != "It is 42." || model.calls != 2 {
		t.Fatalf("content %q streamed %q calls %d", content, streamed, model.calls)
	}
	if len(rec.calls) != 2 || len(rec.tools) != 1 || rec.tools[0].IsError || string(rec.tools[0].Output) == "" {
		t.Fatalf("recorded %+v %+v", rec.calls, rec.tools)
	}
	if totals.Steps != 2 || totals.ToolCalls != 1 || totals.InputTokens != 30 || totals.OutputTokens != 9 {
		t.Fatalf("totals %+v", totals)
	}
	var second llm.Request
	_ = json.Unmarshal(rec.calls[1].Request, &second)
	last := second.Messages[len(second.Messages)-1]
	if last.Role != llm.RoleTool || last.ToolCallID != "call_1" || second.Messages[len(second.Messages)-2].ToolCalls[0].ID != "call_1" {
		t.Fatalf("the tool result is not paired with its call: %+v", second.Messages)
	}
}

// After a crash the job runs again: steps already recorded are taken from the session, so the
// model is not asked again and the tool is not run again.
func TestRunResumesFromRecordedSteps(t *testing.T) {
	c, msg := session("what is 6*7?")
	first := &memRecorder{}
	_, _, _ = Run(context.Background(), Turn{Agent: agentWithCalculator(), Chat: c, Message: msg,
		Provider: &scripted{responses: toolRound[:1]}, Tools: tools.Default(tools.Options{}), Record: &failAfter{memRecorder: first, n: 2}})
	// The first call and its tool result were recorded before the "crash".
	for _, call := range first.calls {
		ev, _ := c.RecordModelCall(msg.ID, call)
		c.Apply(ev[0])
	}
	for _, tool := range first.tools {
		ev, _ := c.RecordToolCall(msg.ID, tool)
		c.Apply(ev[0])
	}
	model := &scripted{responses: toolRound[1:]}
	counting := &countingTools{Tools: tools.Default(tools.Options{})}
	content, totals, err := Run(context.Background(), Turn{Agent: agentWithCalculator(), Chat: c, Message: msg, Provider: model,
		Tools: counting, Record: &memRecorder{}})
	if err != nil || content != "It is 42." {
		t.Fatal(content, err)
	}
	if model.calls != 1 || counting.calls != 0 || totals.Steps != 2 {
		t.Fatalf("resumed run called the model %d times and the tool %d times (totals %+v)", model.calls, counting.calls, totals)
	}
}

type failAfter struct {
	*memRecorder
	n int
}

func (f *failAfter) ToolCalled(ctx context.Context, t domain.ToolCallRecord) error {
	_ = f.memRecorder.ToolCalled(ctx, t)
	return context.Canceled // the process dies right after recording the tool result
}

type countingTools struct {
	Tools
	calls int
}

func (c *countingTools) Call(ctx context.Context, call llm.ToolCall, allowed []string) tools.Result {
	c.calls++
	return c.Tools.Call(ctx, call, allowed)
}

func TestRunStopsAtTheLoopLimit(t *testing.T) {
	c, msg := session("loop")
	var responses []llm.Response
	for i := 0; i < domain.MaxChatSteps+1; i++ {
		responses = append(responses, toolRound[0])
	}
	_, totals, err := Run(context.Background(), Turn{Agent: agentWithCalculator(), Chat: c, Message: msg,
		Provider: &scripted{responses: responses}, Tools: tools.Default(tools.Options{}), Record: &memRecorder{}})
	if err != ErrLoopLimit || totals.Steps != domain.MaxChatSteps {
		t.Fatalf("%v %+v", err, totals)
	}
}
