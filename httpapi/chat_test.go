package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

func (s *server) offlineAgent(tools ...string) string {
	s.t.Helper()
	r := s.do("POST", "/agents", map[string]any{"name": "Thinker", "provider": "offline", "tools": tools})
	if r.status != 201 {
		s.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(s.t)["id"].(string)
}

type reply struct {
	SessionID string `json:"session_id"`
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Content   string `json:"content"`
	ToolCalls []struct {
		ID      string          `json:"id"`
		Name    string          `json:"name"`
		Output  json.RawMessage `json:"output"`
		IsError bool            `json:"is_error"`
		Error   string          `json:"error"`
	} `json:"tool_calls"`
	Usage struct {
		Steps        int     `json:"steps"`
		ToolCalls    int     `json:"tool_calls"`
		InputTokens  int     `json:"input_tokens"`
		OutputTokens int     `json:"output_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	} `json:"usage"`
}

func (s *server) chat(agent string, body map[string]any) (reply, response) {
	s.t.Helper()
	r := s.do("POST", "/agents/"+agent+"/chat", body)
	var out reply
	_ = json.Unmarshal(r.body, &out)
	return out, r
}

func TestOfflineChatWithToolsEndToEnd(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent("calculator", "current_time")

	first, r := s.chat(agent, map[string]any{"message": "Hello there"})
	if r.status != 200 || first.Status != "answered" || !strings.HasPrefix(first.Content, "[offline model]") || first.Usage.Steps != 1 {
		t.Fatalf("first reply: %d %s", r.status, r.body)
	}
	// The offline model calls a tool on request: a two-step round trip.
	second, r := s.chat(agent, map[string]any{"session_id": first.SessionID, "message": "Compute it.\n/tool calculator {\"expression\":\"2+3*4\"}"})
	if r.status != 200 || len(second.ToolCalls) != 1 || second.ToolCalls[0].Name != "calculator" || second.ToolCalls[0].IsError ||
		!strings.Contains(string(second.ToolCalls[0].Output), "14") || second.Usage.Steps != 2 || second.Usage.ToolCalls != 1 ||
		!strings.Contains(second.Content, "14") {
		t.Fatalf("tool reply: %d %s", r.status, r.body)
	}
	// Invalid arguments never reach the tool; the model gets the error back and answers.
	bad, r := s.chat(agent, map[string]any{"session_id": first.SessionID, "message": "/tool calculator {\"expr\":1}"})
	if r.status != 200 || len(bad.ToolCalls) != 1 || !bad.ToolCalls[0].IsError || bad.ToolCalls[0].Error == "" {
		t.Fatalf("invalid arguments: %d %s", r.status, r.body)
	}
	// A tool the agent is not allowed is not even offered to the model.
	denied, r := s.chat(agent, map[string]any{"session_id": first.SessionID, "message": "/tool http_get {\"url\":\"https://example.com\"}"})
	if r.status != 200 || len(denied.ToolCalls) != 0 || !strings.Contains(denied.Content, "not one of the offered tools") {
		t.Fatalf("tool not permitted: %d %s", r.status, r.body)
	}

	// The session keeps its history, in order.
	r = s.do("GET", "/chats/"+first.SessionID, nil)
	var transcript struct {
		Messages []struct{ Role, Content, Status string }
	}
	if err := json.Unmarshal(r.body, &transcript); err != nil || len(transcript.Messages) != 8 {
		t.Fatalf("transcript: %d %s", r.status, r.body)
	}
	if transcript.Messages[0].Role != "user" || transcript.Messages[1].Role != "assistant" || transcript.Messages[0].Status != "answered" {
		t.Fatalf("order: %+v", transcript.Messages)
	}
	// Usage per agent adds up every call.
	u := s.do("GET", "/agents/"+agent+"/usage", nil).json(t)
	if u["model_calls"].(float64) != 6 || u["tool_calls"].(float64) != 2 || u["input_tokens"].(float64) == 0 {
		t.Fatalf("usage: %v", u)
	}
	// Replay without any model gives the same transcript.
	rep := s.do("GET", "/chats/"+first.SessionID+"/replay", nil).json(t)
	if rep["identical"] != true || len(rep["transcript"].([]any)) != 8 {
		t.Fatalf("replay: %v", rep)
	}
	// Every call is in the log, with its request and response.
	var calls int
	_ = s.app.DB.SQL.QueryRow(`SELECT count(*) FROM eventlog.events WHERE stream_id = $1 AND event_type = 'chat.model_called'
		AND payload->'call'->>'response' IS NOT NULL AND payload->'call'->>'request' IS NOT NULL`, "chat-"+first.SessionID).Scan(&calls)
	if calls != 6 {
		t.Fatalf("%d recorded model calls, want 6", calls)
	}
}

func TestChatStreamsTokensOnTheAgentFeed(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	conn := dial(t, s, "/ws/agents/"+agent)
	_, r := s.chat(agent, map[string]any{"message": "Please say several words back to me"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	tokens, replied := 0, false
	var text strings.Builder
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !replied {
		var m struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("feed: %v (tokens %d)", err, tokens)
		}
		// The agent's own events (agent.created) precede nothing here: the feed began after it.
		switch m.Type {
		case "chat.token":
			tokens++
			var d struct{ Delta string }
			_ = json.Unmarshal(m.Data, &d)
			text.WriteString(d.Delta)
		case "chat.replied":
			replied = true
		}
	}
	if tokens < 2 || !strings.HasPrefix(text.String(), "[offline model]") {
		t.Fatalf("streamed %d tokens: %q", tokens, text.String())
	}
}

func TestChatRejectsBadInputAndAppendsNothing(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	before := s.eventCount()
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"message":""}`, "message"},
		{`{"message":"   "}`, "message"},
		{`{"message":"` + strings.Repeat("x", 20001) + `"}`, "message"},
		{`{"message":"hi","session_id":"nope"}`, "session_id"},
		{`{"message":"hi","colour":1}`, "colour"},
		{`{"message":42}`, "message"},
	} {
		r := s.do("POST", "/agents/"+agent+"/chat", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%.60s: %d %s", c.body, r.status, r.body)
		}
	}
	if after := s.eventCount(); after != before {
		t.Fatalf("bad chat input appended %d events", after-before)
	}
	// A session belongs to one agent and one person.
	first, _ := s.chat(agent, map[string]any{"message": "hi"})
	other := s.offlineAgent()
	if _, r := s.chat(other, map[string]any{"message": "hi", "session_id": first.SessionID}); r.status != 400 {
		t.Fatalf("session of another agent: %d %s", r.status, r.body)
	}
	member, _ := s.member("mallory@example.com")
	if r := s.do("POST", "/agents/"+agent+"/chat", map[string]any{"message": "hi"}, bearer(member)...); r.status != 403 {
		t.Fatalf("chat with another's agent: %d", r.status)
	}
	if r := s.do("GET", "/chats/"+first.SessionID, nil, bearer(member)...); r.status != 403 {
		t.Fatalf("read another's chat: %d", r.status)
	}
	if r := s.do("POST", "/agents/00000000-0000-0000-0000-000000000000/chat", map[string]any{"message": "hi"}); r.status != 404 {
		t.Fatalf("unknown agent: %d", r.status)
	}
}

func TestChatWithoutAKeyFailsClearly(t *testing.T) {
	s := start(t, func(o *app.Options) { o.ChatTimeout = 30 * time.Second })
	r := s.do("POST", "/agents", map[string]any{"name": "Keyless", "provider": "openai"})
	agent := r.json(t)["id"].(string)
	_, r = s.chat(agent, map[string]any{"message": "hello"})
	if r.status != http.StatusBadGateway || !strings.Contains(string(r.body), "OPENAI_API_KEY") {
		t.Fatalf("missing key: %d %s", r.status, r.body)
	}
	var failed int
	_ = s.app.DB.SQL.QueryRow(`SELECT count(*) FROM eventlog.events WHERE event_type = 'chat.failed'`).Scan(&failed)
	if failed != 1 {
		t.Fatalf("%d chat.failed events", failed)
	}
}

func TestPersonasAndCatalog(t *testing.T) {
	s := start(t)
	r := s.do("POST", "/agents", map[string]any{"persona": "analyst", "provider": "offline"})
	if r.status != 201 || r.json(t)["role"] != "analyst" || r.json(t)["name"] != "Data analyst" {
		t.Fatalf("from persona: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/agents", map[string]any{"persona": "wizard"}); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "persona" {
		t.Fatalf("unknown persona: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/personas", nil); r.status != 200 || !strings.Contains(string(r.body), `"reviewer"`) {
		t.Fatalf("personas: %d", r.status)
	}
	r = s.do("GET", "/catalog", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "gpt-4o-mini") || !strings.Contains(string(r.body), "context_window") ||
		!strings.Contains(string(r.body), `"name":"http_get"`) {
		t.Fatalf("catalog: %d %s", r.status, r.body)
	}
}

// TestChatThroughEachProviderReplaysWithoutIt runs a two-step tool round trip through each
// provider's fake server, then switches the server off and replays the session from the log.
func TestChatThroughEachProviderReplaysWithoutIt(t *testing.T) {
	for _, c := range []struct {
		provider, model string
		fake            func(testing.TB) *llmtest.Server
	}{
		{"openai", "gpt-4o-mini", llmtest.NewOpenAI},
		{"anthropic", "claude-haiku-4-5", llmtest.NewAnthropic},
		{"ollama", "llama3.2", llmtest.NewOllama},
	} {
		t.Run(c.provider, func(t *testing.T) {
			fake := c.fake(t)
			fake.CallTool("call_7", "calculator", `{"expression":"6*7"}`).Reply("The answer is 42.")
			s := start(t, func(o *app.Options) {
				o.LLM = llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), AnthropicKey: llmtest.Key,
					AnthropicBaseURL: fake.BaseURL(), OllamaBaseURL: fake.BaseURL()}
			})
			r := s.do("POST", "/agents", map[string]any{"name": "Remote", "provider": c.provider, "model": c.model, "tools": []string{"calculator"}})
			agent := r.json(t)["id"].(string)
			got, r := s.chat(agent, map[string]any{"message": "What is six times seven?"})
			if r.status != 200 || got.Content != "The answer is 42." || len(got.ToolCalls) != 1 || got.ToolCalls[0].IsError ||
				!strings.Contains(string(got.ToolCalls[0].Output), "42") || got.Usage.Steps != 2 || got.Usage.InputTokens == 0 {
				t.Fatalf("chat: %d %s", r.status, r.body)
			}
			if n := len(fake.Requests()); n != 2 {
				t.Fatalf("the provider saw %d requests, want 2", n)
			}
			fake.Close()
			rep := s.do("GET", "/chats/"+got.SessionID+"/replay", nil).json(t)
			if rep["identical"] != true {
				t.Fatalf("replay with the provider off: %v", rep)
			}
			if n := len(fake.Requests()); n != 2 {
				t.Fatalf("replay called the provider (%d requests)", n)
			}
		})
	}
}
