package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

type recallResp struct {
	Items []struct {
		ID         string  `json:"id"`
		Kind       string  `json:"kind"`
		Scope      string  `json:"scope"`
		Content    string  `json:"content"`
		Source     string  `json:"source"`
		DocumentID string  `json:"document_id"`
		Score      float64 `json:"score"`
		Similarity float64 `json:"similarity"`
	} `json:"items"`
	Mode  string `json:"mode"`
	Path  string `json:"path"`
	Model string `json:"model"`
}

func (s *server) recall(body map[string]any, headers ...string) recallResp {
	s.t.Helper()
	r := s.do("POST", "/memory/search", body, headers...)
	if r.status != 200 {
		s.t.Fatalf("recall %v: %d %s", body, r.status, r.body)
	}
	var out recallResp
	if err := json.Unmarshal(r.body, &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// embedded waits until the embedding job recorded the memory's vector.
func (s *server) embedded(id string, headers ...string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.do("GET", "/memory/"+id, nil, headers...)
		if r.status == 200 && r.json(s.t)["embedding"] == "done" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("memory %s never embedded: %d %s", id, r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) remember(body map[string]any, headers ...string) string {
	s.t.Helper()
	r := s.do("POST", "/memory", body, headers...)
	if r.status != 201 {
		s.t.Fatalf("remember %v: %d %s", body, r.status, r.body)
	}
	return r.json(s.t)["memory"].(map[string]any)["id"].(string)
}

func TestMemoryRecallIsScopedAndForgettingIsFinal(t *testing.T) {
	s := start(t)
	ada, bob := s.offlineAgent(), s.offlineAgent()
	outsider := s.offlineAgent()
	if r := s.do("POST", "/circles", map[string]any{"name": "kitchen"}); r.status != 201 {
		t.Fatal(r.status)
	}
	for _, id := range []string{ada, bob} {
		s.do("POST", "/circles/kitchen/members", map[string]any{"agent_id": id})
	}
	circleID := s.do("GET", "/circles/kitchen", nil).json(t)["id"].(string)
	feed := dial(t, s, "/ws/agents/"+ada)

	private := s.remember(map[string]any{"agent_id": ada, "content": "Ada prefers green tea in the morning", "tags": []string{"taste"}})
	shared := s.remember(map[string]any{"scope": "circle", "scope_id": circleID, "content": "The circle brews tea at four o'clock"})
	global := s.remember(map[string]any{"scope": "global", "content": "Tea should steep for three minutes", "importance": 0.9})
	bobs := s.remember(map[string]any{"agent_id": bob, "content": "Bob drinks black tea without sugar"})
	for _, id := range []string{private, shared, global, bobs} {
		s.embedded(id)
	}
	ids := func(r recallResp) map[string]bool {
		out := map[string]bool{}
		for _, it := range r.Items {
			out[it.ID] = true
		}
		return out
	}
	// Ada sees her own, her circle's and the global memory; never Bob's private one.
	asAda := s.recall(map[string]any{"query": "what tea does she like", "agent_id": ada, "mode": "vector", "limit": 10})
	if got := ids(asAda); !got[private] || !got[shared] || !got[global] || got[bobs] || asAda.Mode != "vector" || asAda.Model == "" {
		t.Fatalf("as ada: %+v", asAda)
	}
	if asAda.Items[0].Score < asAda.Items[len(asAda.Items)-1].Score {
		t.Fatalf("not ordered by score: %+v", asAda.Items)
	}
	// An agent outside the circle sees only the global memory.
	if got := ids(s.recall(map[string]any{"query": "tea", "agent_id": outsider, "limit": 10})); len(got) != 1 || !got[global] {
		t.Fatalf("as outsider: %v", got)
	}
	// Another user's agents see nothing of this user's, not even the global memory.
	carolToken, _ := s.member("carol@example.com")
	carols := s.do("POST", "/agents", map[string]any{"name": "Carol's", "provider": "offline"}, bearer(carolToken)...).json(t)["id"].(string)
	if got := s.recall(map[string]any{"query": "tea", "agent_id": carols, "mode": "hybrid"}, bearer(carolToken)...); len(got.Items) != 0 {
		t.Fatalf("another user's agent recalled: %+v", got)
	}
	if r := s.do("POST", "/memory/search", map[string]any{"query": "tea", "agent_id": ada}, bearer(carolToken)...); r.status != 403 {
		t.Fatalf("recall as someone else's agent: %d", r.status)
	}
	if r := s.do("DELETE", "/memory/"+private, nil, bearer(carolToken)...); r.status != 403 && r.status != 404 {
		t.Fatalf("a stranger forgets: %d", r.status)
	}
	// Tags and threshold filter; text mode finds by words.
	if got := ids(s.recall(map[string]any{"query": "tea", "agent_id": ada, "tags": []string{"taste"}})); len(got) != 1 || !got[private] {
		t.Fatalf("by tag: %v", got)
	}
	if got := s.recall(map[string]any{"query": "quarterly revenue forecast", "agent_id": ada, "mode": "vector", "threshold": 0.5}); len(got.Items) != 0 {
		t.Fatalf("threshold let through: %+v", got.Items)
	}
	if got := ids(s.recall(map[string]any{"query": "sugar", "mode": "text"})); len(got) != 1 || !got[bobs] {
		t.Fatalf("text mode: %v", got)
	}

	// Forgetting is recorded and final.
	if r := s.do("DELETE", "/memory/"+private, nil); r.status != 204 {
		t.Fatalf("forget: %d %s", r.status, r.body)
	}
	if got := ids(s.recall(map[string]any{"query": "green tea morning", "agent_id": ada, "limit": 10})); got[private] {
		t.Fatal("a forgotten memory came back")
	}
	if r := s.do("GET", "/memory/"+private, nil); r.status != 404 {
		t.Fatalf("forgotten memory still readable: %d", r.status)
	}
	if r := s.do("DELETE", "/memory/"+private, nil); r.status != 404 {
		t.Fatalf("forgotten twice: %d", r.status)
	}
	// The memory events were on the agent's feed.
	seen := map[string]bool{}
	_ = feed.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !seen["memory.forgotten"] {
		var m struct{ Type string }
		if err := feed.ReadJSON(&m); err != nil {
			t.Fatalf("feed: %v (seen %v)", err, seen)
		}
		seen[m.Type] = true
	}
	if !seen["memory.remembered"] {
		t.Fatalf("remembered not on the agent's feed: %v", seen)
	}
	var stats struct {
		Counts []struct {
			Kind  string `json:"kind"`
			Items int    `json:"items"`
		} `json:"counts"`
		SearchPath string `json:"search_path"`
		Embeddings struct {
			Model    string `json:"model"`
			Computed int    `json:"computed"`
		} `json:"embeddings"`
	}
	_ = json.Unmarshal(s.do("GET", "/memory/stats", nil).body, &stats)
	if stats.SearchPath == "" || stats.Embeddings.Computed == 0 || len(stats.Counts) == 0 {
		t.Fatalf("stats: %+v", stats)
	}
}

func TestMemoryBadInputIsRefusedAndAppendsNothing(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	before := s.eventCount()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"content": ""}, "content"},
		{map[string]any{"content": "x", "scope": "galaxy"}, "scope"},
		{map[string]any{"content": "x", "scope": "circle"}, "scope_id"},
		{map[string]any{"content": "x", "scope": "circle", "scope_id": "00000000-0000-0000-0000-000000000000"}, "scope_id"},
		{map[string]any{"content": "x", "agent_id": "00000000-0000-0000-0000-000000000000"}, "agent_id"},
		{map[string]any{"content": "x", "agent_id": agent, "importance": 3}, "importance"},
		{map[string]any{"content": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"},
		{map[string]any{"content": "x", "colour": "red"}, "colour"},
	} {
		r := s.do("POST", "/memory", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"title": "", "format": "text", "content": "x"}, "title"},
		{map[string]any{"title": "t", "format": "pdf", "content": "x"}, "format"},
		{map[string]any{"title": "t", "format": "text", "content": "  "}, "content"},
	} {
		r := s.do("POST", "/knowledge", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("knowledge %v: %d %s", c.body, r.status, r.body)
		}
	}
	if r := s.do("POST", "/memory/search", map[string]any{"query": ""}); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "query" {
		t.Errorf("empty query: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/memory/search", map[string]any{"query": "x", "limit": 1000}); r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != "limit" {
		t.Errorf("limit: %d %s", r.status, r.body)
	}
	if s.eventCount() != before {
		t.Fatal("refused input appended events")
	}
}

func TestKnowledgeUploadChunksAndSearchesWithSources(t *testing.T) {
	s := start(t)
	var doc strings.Builder
	doc.WriteString("# Brewing guide\n\n")
	for i := 0; i < 40; i++ {
		doc.WriteString("General notes about kettles, cups and saucers, paragraph filler text. ")
		if i%8 == 7 {
			doc.WriteString("\n\n")
		}
	}
	doc.WriteString("\n\n## Oolong\n\nOolong leaves unfurl best at ninety degrees Celsius over several short infusions.\n")
	// A multipart upload, as a browser sends it.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile("file", "brewing.md")
	_, _ = fw.Write([]byte(doc.String()))
	_ = w.WriteField("scope", "global")
	_ = w.Close()
	req, _ := http.NewRequest("POST", s.base+"/knowledge", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		Format string `json:"format"`
		Chunks int    `json:"chunks"`
	}
	_ = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != 201 || created.Format != "markdown" || created.Title != "brewing.md" || created.Chunks < 3 {
		t.Fatalf("upload: %d %+v", res.StatusCode, created)
	}
	csv := s.do("POST", "/knowledge", map[string]any{"title": "Teas", "format": "csv", "content": "name,origin\nsencha,Japan\nassam,India\n"})
	if csv.status != 201 {
		t.Fatalf("csv: %d %s", csv.status, csv.body)
	}
	// Found by meaning once embedded, with the document and chunk as its source.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := s.recall(map[string]any{"query": "oolong infusion temperature", "mode": "vector", "limit": 3})
		if len(got.Items) > 0 {
			top := got.Items[0]
			if top.Kind != "knowledge" || top.DocumentID != created.ID || !strings.Contains(top.Content, "ninety degrees") ||
				!strings.HasPrefix(top.Source, "brewing.md #") {
				t.Fatalf("top hit: %+v", top)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the document was never embedded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ks := s.do("POST", "/knowledge/search", map[string]any{"query": "assam India", "mode": "text"})
	if ks.status != 200 || !strings.Contains(string(ks.body), "name,origin") {
		t.Fatalf("csv chunk with its header: %d %s", ks.status, ks.body)
	}
	if list := s.do("GET", "/knowledge", nil); !strings.Contains(string(list.body), created.ID) {
		t.Fatalf("list: %s", list.body)
	}
	if r := s.do("DELETE", "/knowledge/"+created.ID, nil); r.status != 204 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if got := s.recall(map[string]any{"query": "oolong", "mode": "text"}); len(got.Items) != 0 {
		t.Fatalf("removed document still found: %+v", got.Items)
	}
}

// TestChatTurnGetsRelevantMemoryAndRecordsIt: what the agent remembers reaches the model's
// system prompt, the model call records what was injected, and the replay (with the provider
// off and the memory forgotten) gives the same prompt from the record.
func TestChatTurnGetsRelevantMemoryAndRecordsIt(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	fake.Reply("You like green tea.")
	s := start(t, func(o *app.Options) { o.LLM = llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL()} })
	agent := s.do("POST", "/agents", map[string]any{"name": "Host", "provider": "openai", "model": "gpt-4o-mini"}).json(t)["id"].(string)
	liked := s.remember(map[string]any{"agent_id": agent, "content": "The guest likes green tea with jasmine"})
	unrelated := s.remember(map[string]any{"agent_id": agent, "content": "Quarterly revenue grew by four percent"})
	s.embedded(liked)
	s.embedded(unrelated)
	got, r := s.chat(agent, map[string]any{"message": "Which tea does the guest like?"})
	if r.status != 200 || got.Content != "You like green tea." {
		t.Fatalf("chat: %d %s", r.status, r.body)
	}
	system := fmt.Sprint(fake.Last().Messages()[0]["content"])
	if !strings.Contains(system, "What you remember and know") || !strings.Contains(system, "green tea with jasmine") {
		t.Fatalf("the memory did not reach the prompt: %s", system)
	}
	var events struct {
		Items []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"payload"`
		} `json:"events"`
	}
	_ = json.Unmarshal(s.do("GET", "/events?type=chat.model_called", nil).body, &events)
	if len(events.Items) != 1 {
		t.Fatalf("model calls: %s", s.do("GET", "/events?type=chat.model_called", nil).body)
	}
	var called struct {
		Call struct {
			Context struct {
				Items []struct{ ID, Kind string } `json:"items"`
			} `json:"context"`
		} `json:"call"`
	}
	_ = json.Unmarshal(events.Items[0].Data, &called)
	if len(called.Call.Context.Items) == 0 || called.Call.Context.Items[0].ID != liked {
		t.Fatalf("the injected context is not recorded with the call: %s", events.Items[0].Data)
	}
	fake.Close()
	s.do("DELETE", "/memory/"+liked, nil)
	if rep := s.do("GET", "/chats/"+got.SessionID+"/replay", nil).json(t); rep["identical"] != true {
		t.Fatalf("replay after forgetting: %v", rep)
	}
}
