package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

// harness runs the same scenarios against each HTTP provider and its fake.
type harness struct {
	name string
	fake func(testing.TB) *llmtest.Server
	// provider builds the client for the fake at baseURL.
	provider func(baseURL, key string, cfg tweak) llm.Provider
	// keyed: the provider needs an API key (Ollama does not).
	keyed bool
	// checkFirst asserts on the first request of the tool round trip.
	checkFirst func(t *testing.T, r llmtest.Request, stream bool)
	// checkSecond asserts that the second request carries the call and its result.
	checkSecond func(t *testing.T, r llmtest.Request, callID string)
	// fakeCallID is the id the fake's tool call has on the client side.
	fakeCallID string
}

type tweak struct {
	maxRetries int
	timeout    time.Duration
}

var harnesses = []harness{
	{
		name: "openai",
		fake: llmtest.NewOpenAI,
		provider: func(baseURL, key string, c tweak) llm.Provider {
			return llm.NewOpenAI(llm.OpenAIConfig{APIKey: key, BaseURL: baseURL, MaxRetries: c.maxRetries, Timeout: c.timeout})
		},
		keyed:       true,
		checkFirst:  checkOpenAIFirst,
		checkSecond: checkOpenAISecond,
		fakeCallID:  "call_abc123",
	},
	{
		name: "anthropic",
		fake: llmtest.NewAnthropic,
		provider: func(baseURL, key string, c tweak) llm.Provider {
			return llm.NewAnthropic(llm.AnthropicConfig{APIKey: key, BaseURL: baseURL, MaxRetries: c.maxRetries, Timeout: c.timeout})
		},
		keyed:       true,
		checkFirst:  checkAnthropicFirst,
		checkSecond: checkAnthropicSecond,
		fakeCallID:  "toolu_01abc",
	},
	{
		name: "ollama",
		fake: llmtest.NewOllama,
		provider: func(baseURL, key string, c tweak) llm.Provider {
			return llm.NewOllama(llm.OllamaConfig{APIKey: key, BaseURL: baseURL, MaxRetries: c.maxRetries, Timeout: c.timeout})
		},
		checkFirst:  checkOllamaFirst,
		checkSecond: checkOllamaSecond,
		fakeCallID:  "call_0", // Ollama has no ids: the client numbers the calls
	},
}

// call runs Complete or Stream; for Stream it also returns the onText pieces.
func call(ctx context.Context, p llm.Provider, req llm.Request, stream bool) (llm.Response, []string, error) {
	if !stream {
		resp, err := p.Complete(ctx, req)
		return resp, nil, err
	}
	var pieces []string
	resp, err := p.Stream(ctx, req, func(s string) { pieces = append(pieces, s) })
	return resp, pieces, err
}

// forEach runs f for each provider, non-streamed and streamed.
func forEach(t *testing.T, f func(t *testing.T, h harness, stream bool)) {
	for _, h := range harnesses {
		for _, stream := range []bool{false, true} {
			name := h.name + "/complete"
			if stream {
				name = h.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f(t, h, stream)
			})
		}
	}
}

var weatherTool = llm.ToolSpec{
	Name:        "get_weather",
	Description: "Current weather for a city.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

const (
	systemPrompt = "You are terse."
	question     = "Weather in Oslo?"
	toolResult   = "sunny, 21°C"
	finalAnswer  = "It is sunny in Oslo today."
)

func TestToolRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t)
		fake.CallTool(h.fakeCallID, "get_weather", `{"city": "Oslo"}`).Reply(finalAnswer)
		p := h.provider(fake.BaseURL(), llmtest.Key, tweak{})
		ctx := context.Background()

		req := llm.Request{
			Model:    "test-model",
			System:   systemPrompt,
			Messages: []llm.Message{{Role: llm.RoleUser, Content: question}},
			Tools:    []llm.ToolSpec{weatherTool},
		}
		r1, _, err := call(ctx, p, req, stream)
		if err != nil {
			t.Fatalf("request 1: %v", err)
		}
		if r1.StopReason != llm.StopToolUse {
			t.Errorf("stop reason 1 = %q, want tool_use", r1.StopReason)
		}
		if len(r1.ToolCalls) != 1 {
			t.Fatalf("tool calls = %+v, want 1", r1.ToolCalls)
		}
		tc := r1.ToolCalls[0]
		if tc.ID != h.fakeCallID || tc.Name != "get_weather" || string(tc.Arguments) != `{"city":"Oslo"}` {
			t.Errorf("tool call = {%s %s %s}", tc.ID, tc.Name, tc.Arguments)
		}
		if r1.Usage.InputTokens <= 0 || r1.Usage.OutputTokens != 10 {
			t.Errorf("usage 1 = %+v, want input > 0 and output 10", r1.Usage)
		}
		if r1.Model != "test-model" {
			t.Errorf("model = %q", r1.Model)
		}
		h.checkFirst(t, fake.Last(), stream)

		req.Messages = append(req.Messages,
			llm.Message{Role: llm.RoleAssistant, Content: r1.Content, ToolCalls: r1.ToolCalls},
			llm.Message{Role: llm.RoleTool, ToolCallID: tc.ID, Name: tc.Name, Content: toolResult},
		)
		r2, pieces, err := call(ctx, p, req, stream)
		if err != nil {
			t.Fatalf("request 2: %v", err)
		}
		if r2.Content != finalAnswer || r2.StopReason != llm.StopEnd || len(r2.ToolCalls) != 0 {
			t.Errorf("answer 2 = %+v", r2)
		}
		if r2.Usage.InputTokens <= r1.Usage.InputTokens || r2.Usage.OutputTokens != len(strings.Fields(finalAnswer)) {
			t.Errorf("usage 2 = %+v (usage 1 %+v)", r2.Usage, r1.Usage)
		}
		if stream && strings.Join(pieces, "") != finalAnswer {
			t.Errorf("streamed pieces %q do not join to the answer", pieces)
		}
		h.checkSecond(t, fake.Last(), tc.ID)
		if n := len(fake.Requests()); n != 2 {
			t.Errorf("fake saw %d requests, want 2", n)
		}
	})
}

func TestStreamMatchesComplete(t *testing.T) {
	for _, h := range harnesses {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			fake := h.fake(t)
			text := "The quick brown fox jumps over the lazy dog."
			fake.Reply(text).Reply(text).
				CallTool(h.fakeCallID, "get_weather", `{"city":"Bergen"}`).
				CallTool(h.fakeCallID, "get_weather", `{"city":"Bergen"}`)
			p := h.provider(fake.BaseURL(), llmtest.Key, tweak{})
			req := llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Tools: []llm.ToolSpec{weatherTool}}
			ctx := context.Background()

			for _, want := range []string{"text", "tool"} {
				full, err := p.Complete(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				var pieces []string
				streamed, err := p.Stream(ctx, req, func(s string) { pieces = append(pieces, s) })
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(full, streamed) {
					t.Errorf("%s: streamed response\n%+v\ndiffers from complete\n%+v", want, streamed, full)
				}
				if want == "text" {
					if len(pieces) < 2 {
						t.Errorf("onText called %d times, want several", len(pieces))
					}
					if strings.Join(pieces, "") != text || full.Content != text {
						t.Errorf("pieces %q, content %q", pieces, full.Content)
					}
				} else if len(full.ToolCalls) != 1 || string(full.ToolCalls[0].Arguments) != `{"city":"Bergen"}` {
					t.Errorf("tool calls = %+v", full.ToolCalls)
				}
			}
		})
	}
}

func TestRetryAfter429(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t)
		fake.Fail(http.StatusTooManyRequests, 1).Reply("ok then")
		p := h.provider(fake.BaseURL(), llmtest.Key, tweak{})
		resp, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		if err != nil {
			t.Fatalf("after a 429: %v", err)
		}
		if resp.Content != "ok then" {
			t.Errorf("content = %q", resp.Content)
		}
		if n := len(fake.Requests()); n != 2 {
			t.Errorf("fake saw %d requests, want 2 (one retry)", n)
		}
	})
}

func TestServerErrorExhaustsRetries(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t)
		fake.Fail(500, 0).Fail(500, 0).Fail(500, 0)
		p := h.provider(fake.BaseURL(), llmtest.Key, tweak{}) // default: 2 retries
		_, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrUnavailable)
		if n := len(fake.Requests()); n != 3 {
			t.Errorf("fake saw %d requests, want 3 (2 retries)", n)
		}
		var e *llm.Error
		if errors.As(err, &e) && (e.Status != 500 || e.Provider != h.name) {
			t.Errorf("error = %+v", e)
		}
	})
}

func TestBadRequestIsNotRetried(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t)
		fake.Fail(http.StatusNotFound, 0)
		p := h.provider(fake.BaseURL(), llmtest.Key, tweak{})
		_, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrBadRequest)
		if n := len(fake.Requests()); n != 1 {
			t.Errorf("fake saw %d requests, want 1", n)
		}
	})
}

func TestWrongKey(t *testing.T) {
	const wrong = "sk-wrong-key-that-must-not-leak"
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t).RequireKey(llmtest.Key)
		p := h.provider(fake.BaseURL(), wrong, tweak{})
		_, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrAuth)
		if err != nil && strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q contains the key", err)
		}
		var e *llm.Error
		if errors.As(err, &e) && e.Err != nil && strings.Contains(e.Err.Error(), wrong) {
			t.Errorf("wrapped error %q contains the key", e.Err)
		}
		if n := len(fake.Requests()); n != 1 {
			t.Errorf("fake saw %d requests, want 1 (auth is not retried)", n)
		}
	})
}

func TestEmptyKey(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		fake := h.fake(t)
		p := h.provider(fake.BaseURL(), "", tweak{})
		req := llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
		if !h.keyed {
			// A local Ollama needs no key: the call just works.
			fake.Reply("hello")
			if _, _, err := call(context.Background(), p, req, stream); err != nil {
				t.Fatalf("keyless Ollama: %v", err)
			}
			return
		}
		_, _, err := call(context.Background(), p, req, stream)
		wantKind(t, err, llm.ErrMissingKey)
		env := map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[h.name]
		if err != nil && !strings.Contains(err.Error(), env) {
			t.Errorf("error %q does not name %s", err, env)
		}
		if n := len(fake.Requests()); n != 0 {
			t.Errorf("fake saw %d requests, want none", n)
		}
	})
}

func TestTimeout(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		stop := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(stop) }) // runs first
		base := hang.URL
		if h.name == "openai" {
			base += "/v1"
		}
		p := h.provider(base, llmtest.Key, tweak{maxRetries: -1, timeout: 200 * time.Millisecond})
		_, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrTimeout)

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		p = h.provider(base, llmtest.Key, tweak{})
		_, _, err = call(ctx, p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v does not wrap context.DeadlineExceeded", err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	forEach(t, func(t *testing.T, h harness, stream bool) {
		dead := httptest.NewServer(http.NotFoundHandler())
		base := dead.URL
		dead.Close()
		p := h.provider(base, llmtest.Key, tweak{maxRetries: -1})
		_, _, err := call(context.Background(), p, llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, stream)
		wantKind(t, err, llm.ErrUnavailable)
	})
}

func wantKind(t *testing.T, err error, kind llm.ErrorKind) {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *llm.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("error kind = %s (%v), want %s", e.Kind, e, kind)
	}
}

// --- per-provider wire assertions ---

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func expectJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON for %s: %v", what, err)
	}
	if !reflect.DeepEqual(got, w) {
		gj, _ := json.Marshal(got)
		t.Errorf("%s = %s, want %s", what, gj, want)
	}
}

func checkOpenAIFirst(t *testing.T, r llmtest.Request, stream bool) {
	expect(t, "path", r.Path, "/v1/chat/completions")
	expect(t, "Authorization", r.Header.Get("Authorization"), "Bearer "+llmtest.Key)
	expectJSON(t, "messages", r.Body["messages"], `[{"role":"system","content":"You are terse."},{"role":"user","content":"Weather in Oslo?"}]`)
	expectJSON(t, "tools", r.Body["tools"], `[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city.",
		"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`)
	expect(t, "model", r.Body["model"], "test-model")
	if stream {
		expect(t, "stream", r.Body["stream"], true)
		expect(t, "stream_options.include_usage", get(r.Body, "stream_options", "include_usage"), true)
	} else if s, ok := r.Body["stream"]; ok && s != false {
		t.Errorf("stream = %v in a non-streamed request", s)
	}
}

func checkOpenAISecond(t *testing.T, r llmtest.Request, callID string) {
	msgs := r.Messages()
	if len(msgs) != 4 {
		t.Fatalf("messages = %v, want 4", r.Body["messages"])
	}
	expect(t, "assistant role", msgs[2]["role"], "assistant")
	expectJSON(t, "assistant tool_calls", msgs[2]["tool_calls"],
		`[{"id":"`+callID+`","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]`)
	expectJSON(t, "tool message", msgs[3], `{"role":"tool","tool_call_id":"`+callID+`","content":"`+toolResult+`"}`)
}

func checkAnthropicFirst(t *testing.T, r llmtest.Request, stream bool) {
	expect(t, "path", r.Path, "/v1/messages")
	// anthropic-sdk-go v2 sends the key as a Bearer token; older versions used x-api-key.
	if r.Header.Get("X-Api-Key") != llmtest.Key && r.Header.Get("Authorization") != "Bearer "+llmtest.Key {
		t.Errorf("key not sent: x-api-key %q, Authorization %q", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
	}
	if r.Header.Get("Anthropic-Version") == "" {
		t.Error("no anthropic-version header")
	}
	expectJSON(t, "system", r.Body["system"], `[{"type":"text","text":"You are terse."}]`)
	expectJSON(t, "messages", r.Body["messages"], `[{"role":"user","content":[{"type":"text","text":"Weather in Oslo?"}]}]`)
	expectJSON(t, "tools", r.Body["tools"], `[{"name":"get_weather","description":"Current weather for a city.",
		"input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]`)
	expect(t, "max_tokens", r.Body["max_tokens"], 1024.0)
	if stream {
		expect(t, "stream", r.Body["stream"], true)
	}
}

func checkAnthropicSecond(t *testing.T, r llmtest.Request, callID string) {
	expectJSON(t, "messages", r.Body["messages"], `[
		{"role":"user","content":[{"type":"text","text":"Weather in Oslo?"}]},
		{"role":"assistant","content":[{"type":"tool_use","id":"`+callID+`","name":"get_weather","input":{"city":"Oslo"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"`+callID+`","content":[{"type":"text","text":"`+toolResult+`"}],"is_error":false}]}
	]`)
}

func checkOllamaFirst(t *testing.T, r llmtest.Request, stream bool) {
	expect(t, "path", r.Path, "/api/chat")
	expect(t, "stream", r.Body["stream"], stream)
	expectJSON(t, "messages", r.Body["messages"], `[{"role":"system","content":"You are terse."},{"role":"user","content":"Weather in Oslo?"}]`)
	expectJSON(t, "tools", r.Body["tools"], `[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city.",
		"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`)
}

func checkOllamaSecond(t *testing.T, r llmtest.Request, _ string) {
	msgs := r.Messages()
	if len(msgs) != 4 {
		t.Fatalf("messages = %v, want 4", r.Body["messages"])
	}
	expectJSON(t, "assistant", msgs[2], `{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Oslo"}}}]}`)
	expectJSON(t, "tool message", msgs[3], `{"role":"tool","content":"`+toolResult+`","tool_name":"get_weather"}`)
}

// --- provider-specific behaviour ---

func TestAnthropicGroupsToolResults(t *testing.T) {
	fake := llmtest.NewAnthropic(t)
	fake.CallTools(
		llmtest.Call{ID: "toolu_a", Name: "get_weather", Args: `{"city":"Oslo"}`},
		llmtest.Call{ID: "toolu_b", Name: "get_weather", Args: `{"city":"Rome"}`},
	).Reply("Done.")
	p := llm.NewAnthropic(llm.AnthropicConfig{APIKey: llmtest.Key, BaseURL: fake.BaseURL()})
	req := llm.Request{Model: "claude-haiku-4-5", Messages: []llm.Message{{Role: llm.RoleUser, Content: "Oslo and Rome?"}}, Tools: []llm.ToolSpec{weatherTool}, MaxTokens: 300}
	r1, err := p.Stream(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r1.ToolCalls) != 2 {
		t.Fatalf("calls = %+v", r1.ToolCalls)
	}
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, ToolCalls: r1.ToolCalls},
		llm.Message{Role: llm.RoleTool, ToolCallID: "toolu_a", Content: "sunny"},
		llm.Message{Role: llm.RoleTool, ToolCallID: "toolu_b", Content: "city not found", IsError: true},
	)
	if _, err := p.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r := fake.Last()
	expect(t, "max_tokens", r.Body["max_tokens"], 300.0)
	expectJSON(t, "messages", r.Body["messages"], `[
		{"role":"user","content":[{"type":"text","text":"Oslo and Rome?"}]},
		{"role":"assistant","content":[
			{"type":"tool_use","id":"toolu_a","name":"get_weather","input":{"city":"Oslo"}},
			{"type":"tool_use","id":"toolu_b","name":"get_weather","input":{"city":"Rome"}}]},
		{"role":"user","content":[
			{"type":"tool_result","tool_use_id":"toolu_a","content":[{"type":"text","text":"sunny"}],"is_error":false},
			{"type":"tool_result","tool_use_id":"toolu_b","content":[{"type":"text","text":"city not found"}],"is_error":true}]}
	]`)
}

func TestOpenAICompatibleName(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	fake.Reply("hi")
	temp := 0.2
	p := llm.NewOpenAI(llm.OpenAIConfig{Name: "lmstudio", APIKey: llmtest.Key, BaseURL: fake.BaseURL()})
	if p.Name() != "lmstudio" {
		t.Errorf("name = %q", p.Name())
	}
	if _, err := p.Complete(context.Background(), llm.Request{Model: "m", Temperature: &temp, MaxTokens: 50,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}); err != nil {
		t.Fatal(err)
	}
	r := fake.Last()
	expect(t, "temperature", r.Body["temperature"], 0.2)
	expect(t, "max_tokens", r.Body["max_tokens"], 50.0)

	_, err := llm.NewOpenAI(llm.OpenAIConfig{Name: "deepseek", KeyEnv: "DEEPSEEK_API_KEY", BaseURL: fake.BaseURL()}).
		Complete(context.Background(), llm.Request{Model: "m"})
	wantKind(t, err, llm.ErrMissingKey)
	if !strings.Contains(err.Error(), "DEEPSEEK_API_KEY") || !strings.HasPrefix(err.Error(), "deepseek:") {
		t.Errorf("error = %v", err)
	}
}

func TestOllamaOptionsAndNames(t *testing.T) {
	fake := llmtest.NewOllama(t)
	fake.Reply("ok")
	temp := 0.5
	p := llm.NewOllama(llm.OllamaConfig{BaseURL: fake.BaseURL()})
	_, err := p.Complete(context.Background(), llm.Request{Model: "llama3.2", Temperature: &temp, MaxTokens: 64, Messages: []llm.Message{
		{Role: llm.RoleUser, Content: "x"},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_0", Name: "lookup", Arguments: json.RawMessage(`{"q":1}`)}}},
		// No Name: the tool name is found from the call id.
		{Role: llm.RoleTool, ToolCallID: "call_0", Content: "42"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := fake.Last()
	expectJSON(t, "options", r.Body["options"], `{"temperature":0.5,"num_predict":64}`)
	expect(t, "tool_name", get(r.Body, "messages", 2, "tool_name"), "lookup")
	expect(t, "Authorization", r.Header.Get("Authorization"), "")
}

func TestParseRetryAfterDate(t *testing.T) {
	fake := llmtest.NewOllama(t)
	p := llm.NewOllama(llm.OllamaConfig{BaseURL: fake.BaseURL(), MaxRetries: -1})
	fake.Fail(http.StatusTooManyRequests, 7)
	_, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
	wantKind(t, err, llm.ErrRateLimited)
	var e *llm.Error
	errors.As(err, &e)
	if e.RetryAfter != 7*time.Second || e.Status != 429 {
		t.Errorf("error = %+v", e)
	}
}
