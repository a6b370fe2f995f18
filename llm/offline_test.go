package llm_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gathering/gathering/llm"
)

func TestOfflineDeterministic(t *testing.T) {
	p := llm.NewOffline()
	if p.Name() != "offline" {
		t.Errorf("name = %q", p.Name())
	}
	req := llm.Request{System: "be nice", Messages: []llm.Message{
		{Role: llm.RoleUser, Content: "first question"},
		{Role: llm.RoleAssistant, Content: "first answer"},
		{Role: llm.RoleUser, Content: "What is the   capital of Norway?"},
	}}
	a, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Complete(context.Background(), req)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two answers differ:\n%+v\n%+v", a, b)
	}
	if !strings.HasPrefix(a.Content, "[offline model]") || !strings.Contains(a.Content, "What is the capital of Norway?") {
		t.Errorf("content = %q", a.Content)
	}
	if a.StopReason != llm.StopEnd || a.Model != llm.OfflineModel || a.ID == "" {
		t.Errorf("response = %+v", a)
	}
	if a.Usage.InputTokens != 2+2+2+6 || a.Usage.OutputTokens != len(strings.Fields(a.Content)) {
		t.Errorf("usage = %+v", a.Usage)
	}
	if usd, known := llm.Cost("offline", a.Model, a.Usage); !known || usd != 0 {
		t.Errorf("cost = %v %v", usd, known)
	}

	req.Messages[2].Content = "Something else"
	c, _ := p.Complete(context.Background(), req)
	if c.Content == a.Content || c.ID == a.ID {
		t.Error("a different conversation gave the same answer")
	}
}

func TestOfflineToolLoop(t *testing.T) {
	p := llm.NewOffline()
	ctx := context.Background()
	req := llm.Request{
		Model:    "offline-1",
		Tools:    []llm.ToolSpec{weatherTool},
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Please check.\n/tool get_weather {\"city\": \"Oslo\"}\nThanks"}},
	}
	r1, err := p.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r1.StopReason != llm.StopToolUse || len(r1.ToolCalls) != 1 {
		t.Fatalf("response = %+v", r1)
	}
	tc := r1.ToolCalls[0]
	if tc.Name != "get_weather" || string(tc.Arguments) != `{"city":"Oslo"}` || !strings.HasPrefix(tc.ID, "call_") {
		t.Errorf("call = %+v", tc)
	}
	if !strings.HasPrefix(r1.Content, "[offline model]") {
		t.Errorf("content = %q", r1.Content)
	}
	again, _ := p.Complete(ctx, req)
	if again.ToolCalls[0].ID != tc.ID {
		t.Error("tool call id is not deterministic")
	}

	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, Content: r1.Content, ToolCalls: r1.ToolCalls},
		llm.Message{Role: llm.RoleTool, ToolCallID: tc.ID, Content: `{"sky":"clear","temp_c":21}`},
	)
	r2, err := p.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r2.StopReason != llm.StopEnd || len(r2.ToolCalls) != 0 {
		t.Fatalf("response 2 = %+v", r2)
	}
	if !strings.HasPrefix(r2.Content, "[offline model]") || !strings.Contains(r2.Content, `get_weather returned: {"sky":"clear","temp_c":21}`) {
		t.Errorf("content 2 = %q", r2.Content)
	}

	// Without tools on offer, the line is just text.
	plain, _ := p.Complete(ctx, llm.Request{Messages: req.Messages[:1]})
	if len(plain.ToolCalls) != 0 {
		t.Error("tool call without tools offered")
	}
	// An unknown tool or broken arguments give an explanation, not a call.
	for _, line := range []string{"/tool nope {}", "/tool get_weather {broken"} {
		r, _ := p.Complete(ctx, llm.Request{Tools: []llm.ToolSpec{weatherTool}, Messages: []llm.Message{{Role: llm.RoleUser, Content: line}}})
		if len(r.ToolCalls) != 0 || r.StopReason != llm.StopEnd || !strings.Contains(r.Content, "Cannot call") {
			t.Errorf("%q: %+v", line, r)
		}
	}
	// A response marshals (the recording format).
	if _, err := json.Marshal(r1); err != nil {
		t.Error(err)
	}
}

func TestOfflineStream(t *testing.T) {
	p := llm.NewOffline()
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "Tell me\nsomething  nice, please."}}}
	full, _ := p.Complete(context.Background(), req)
	var pieces []string
	streamed, err := p.Stream(context.Background(), req, func(s string) { pieces = append(pieces, s) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(full, streamed) {
		t.Errorf("stream %+v != complete %+v", streamed, full)
	}
	if len(pieces) < 5 || strings.Join(pieces, "") != full.Content {
		t.Errorf("pieces %q do not join to %q", pieces, full.Content)
	}
	for _, p := range pieces[:len(pieces)-1] {
		if len(strings.Fields(p)) != 1 {
			t.Errorf("chunk %q is not one word", p)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Stream(ctx, req, nil); err == nil {
		t.Error("no error on a canceled context")
	}
}

func TestOfflineMaxTokens(t *testing.T) {
	r, _ := llm.NewOffline().Complete(context.Background(), llm.Request{MaxTokens: 3,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "a b c d e f"}}})
	if r.StopReason != llm.StopMaxTokens || len(strings.Fields(r.Content)) != 3 || !strings.HasPrefix(r.Content, "[offline model]") {
		t.Errorf("response = %+v", r)
	}
}
