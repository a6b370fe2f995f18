package conversations_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/conversations"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/internal/worktest"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

// harness is a migrated database with a running command bus, an owner and a circle: what every
// worker test needs before it starts a conversation.
type harness struct {
	t      *testing.T
	ctx    context.Context
	db     *eventlog.DB
	bus    *commands.Bus
	repo   *commands.Repository
	owner  domain.Actor
	circle string
	names  map[string]string // agent id -> participant name
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(store, domain.Events, nil)
	commands.RegisterAgents(bus, repo)
	commands.RegisterConversations(bus, repo, worktest.NoJobs{})
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return &harness{t: t, ctx: ctx, db: db, bus: bus, repo: repo,
		owner:  domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember},
		circle: uuid.NewString(), names: map[string]string{}}
}

// agent creates an agent of the owner and returns it as a participant.
func (h *harness) agent(name string, provider domain.Provider, model string) domain.Participant {
	h.t.Helper()
	id := uuid.NewString()
	if _, err := h.bus.Send(h.ctx, &commands.CreateAgent{Envelope: commands.NewEnvelope(h.owner, ""), AgentID: id,
		Spec: domain.AgentSpec{Name: name, Provider: provider, Model: model}}); err != nil {
		h.t.Fatalf("create agent %s: %v", name, err)
	}
	h.names[id] = name
	return domain.Participant{AgentID: id, Name: name}
}

// openAIAgents creates one OpenAI agent per name.
func (h *harness) openAIAgents(names ...string) []domain.Participant {
	var parts []domain.Participant
	for _, n := range names {
		parts = append(parts, h.agent(n, domain.ProviderOpenAI, "gpt-4o-mini"))
	}
	return parts
}

// start starts a conversation in the harness's circle as the owner.
func (h *harness) start(spec domain.ConversationSpec) string {
	h.t.Helper()
	spec.CircleID = h.circle
	if spec.Topic == "" {
		spec.Topic = "the next release"
	}
	id := uuid.NewString()
	if _, err := h.bus.Send(h.ctx, &commands.StartConversation{Envelope: commands.NewEnvelope(h.owner, ""),
		ConversationID: id, Spec: spec}); err != nil {
		h.t.Fatalf("start conversation: %v", err)
	}
	return id
}

func (h *harness) worker(models chat.Models) *conversations.Worker {
	return &conversations.Worker{Repo: h.repo, Bus: h.bus, DB: h.db.SQL, Models: models, Log: zerolog.Nop()}
}

func (h *harness) work(ctx context.Context, w *conversations.Worker, id string) error {
	return w.Work(ctx, &river.Job[commands.ConversationRun]{Args: commands.ConversationRun{ConversationID: id}})
}

// mustWork runs the job and fails the test if it returns an error.
func (h *harness) mustWork(w *conversations.Worker, id string) {
	h.t.Helper()
	if err := h.work(h.ctx, w, id); err != nil {
		h.t.Fatalf("work: %v", err)
	}
}

func (h *harness) load(id string) (*domain.Conversation, []eventlog.Event) {
	h.t.Helper()
	conv, events, err := h.repo.LoadConversation(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return conv, events
}

func (h *harness) stop(id, detail string) {
	h.t.Helper()
	if _, err := h.bus.Send(h.ctx, &commands.EndConversation{Envelope: commands.NewEnvelope(h.owner, ""), ConversationID: id,
		Reason: domain.EndStopped, Detail: detail}); err != nil {
		h.t.Fatalf("stop: %v", err)
	}
}

func (h *harness) post(id, content string) {
	h.t.Helper()
	if _, err := h.bus.Send(h.ctx, &commands.PostToConversation{Envelope: commands.NewEnvelope(h.owner, ""), ConversationID: id,
		MessageID: uuid.NewString(), Content: content}); err != nil {
		h.t.Fatalf("post: %v", err)
	}
}

// speakers names who spoke each turn, in order, and checks the turn numbers are 1..n.
func (h *harness) speakers(conv *domain.Conversation) []string {
	h.t.Helper()
	var out []string
	for i, tn := range conv.Turns {
		if tn.Number != i+1 {
			h.t.Fatalf("turn %d is numbered %d", i+1, tn.Number)
		}
		out = append(out, h.names[tn.SpeakerID])
	}
	return out
}

// ended returns the end event's payload and metadata, failing unless there is exactly one.
func (h *harness) ended(events []eventlog.Event) (domain.ConversationEnded, eventlog.Metadata) {
	h.t.Helper()
	var (
		out  domain.ConversationEnded
		meta eventlog.Metadata
		n    int
	)
	for _, e := range events {
		if e.Type == domain.EventConversationEnded {
			n++
			if err := json.Unmarshal(e.Payload, &out); err != nil {
				h.t.Fatal(err)
			}
			meta = e.Metadata
		}
	}
	if n != 1 {
		h.t.Fatalf("%d end events, want 1", n)
	}
	return out, meta
}

// expectEnd checks the conversation ended for reason with a detail satisfying detailOK.
func (h *harness) expectEnd(id string, reason domain.EndReason, detailOK func(string) bool) (*domain.Conversation, domain.ConversationEnded) {
	h.t.Helper()
	conv, events := h.load(id)
	end, _ := h.ended(events)
	if !conv.Ended || conv.Reason != reason || end.Reason != reason || !detailOK(end.Detail) {
		h.t.Fatalf("ended=%v reason=%q, end event %+v; want reason %q", conv.Ended, conv.Reason, end, reason)
	}
	return conv, end
}

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

func hasPrefix(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}

func sameList(got, want []string) bool { return strings.Join(got, ",") == strings.Join(want, ",") }

// fakes points the real providers at fake servers; a provider without a fake points at a
// closed port, so a call that should not happen fails.
type fakes struct{ openai, anthropic, ollama *llmtest.Server }

func (f fakes) registry() *llm.Registry {
	url := func(s *llmtest.Server) string {
		if s == nil {
			return "http://127.0.0.1:9"
		}
		return s.BaseURL()
	}
	return llm.NewRegistry(llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: url(f.openai),
		AnthropicKey: llmtest.Key, AnthropicBaseURL: url(f.anthropic), OllamaBaseURL: url(f.ollama),
		Timeout: 10 * time.Second, MaxRetries: -1})
}

// hookModels wraps a registry to count the calls reaching the model and to act at given
// calls: before one is sent (a stop, a post, a crash), on each streamed delta, after one.
type hookModels struct {
	inner chat.Models

	mu        sync.Mutex
	streams   int
	completes int

	before func(n int) error // n counts Stream calls from 1; an error is returned instead of calling the model
	// beforeComplete is before for Complete calls (the selection of model_selected).
	beforeComplete func(n int) error
	after          func(n int, resp llm.Response, err error)
}

func (m *hookModels) Get(name string) (llm.Provider, error) {
	p, err := m.inner.Get(name)
	if err != nil {
		return nil, err
	}
	return &hooked{Provider: p, m: m}, nil
}

func (m *hookModels) counts() (streams, completes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.streams, m.completes
}

type hooked struct {
	llm.Provider
	m *hookModels
}

func (p *hooked) Stream(ctx context.Context, r llm.Request, f func(string)) (llm.Response, error) {
	p.m.mu.Lock()
	p.m.streams++
	n := p.m.streams
	p.m.mu.Unlock()
	if p.m.before != nil {
		if err := p.m.before(n); err != nil {
			return llm.Response{}, err
		}
	}
	resp, err := p.Provider.Stream(ctx, r, f)
	if p.m.after != nil {
		p.m.after(n, resp, err)
	}
	return resp, err
}

func (p *hooked) Complete(ctx context.Context, r llm.Request) (llm.Response, error) {
	p.m.mu.Lock()
	p.m.completes++
	n := p.m.completes
	p.m.mu.Unlock()
	if p.m.beforeComplete != nil {
		if err := p.m.beforeComplete(n); err != nil {
			return llm.Response{}, err
		}
	}
	return p.Provider.Complete(ctx, r)
}

// contentTexts flattens a message's content (a string, or blocks with text) to its texts.
func contentTexts(v any) []string {
	switch c := v.(type) {
	case string:
		return []string{c}
	case []any:
		var out []string
		for _, b := range llmtest.Objects(c) {
			if s, ok := b["text"].(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

type wireMessage struct{ role, text string }

// conversationMessages are a request's non-system messages, one per text block.
func conversationMessages(r llmtest.Request) []wireMessage {
	var out []wireMessage
	for _, m := range r.Messages() {
		role, _ := m["role"].(string)
		if role == "system" || role == "developer" {
			continue
		}
		for _, s := range contentTexts(m["content"]) {
			out = append(out, wireMessage{role, s})
		}
	}
	return out
}

// systemText is a request's system prompt in any of the three formats.
func systemText(r llmtest.Request) string {
	parts := contentTexts(r.Body["system"])
	for _, m := range r.Messages() {
		if role, _ := m["role"].(string); role == "system" || role == "developer" {
			parts = append(parts, contentTexts(m["content"])...)
		}
	}
	return strings.Join(parts, "\n")
}

// hasMessage reports whether a request's messages carry a text containing s.
func hasMessage(r llmtest.Request, s string) bool {
	for _, m := range conversationMessages(r) {
		if strings.Contains(m.text, s) {
			return true
		}
	}
	return false
}

func streamed(r llmtest.Request) bool {
	s, set := r.Body["stream"].(bool)
	if strings.HasSuffix(r.Path, "/api/chat") { // Ollama streams unless told not to
		return !set || s
	}
	return s
}

// checkTurnRequests checks that each request was a streamed one built for the speaker of the
// same turn (the system prompt opens with "You are <name>") with that agent's model.
func checkTurnRequests(t *testing.T, reqs []llmtest.Request, speakers []string, model string) {
	t.Helper()
	if len(reqs) != len(speakers) {
		t.Fatalf("%d requests for %d turns", len(reqs), len(speakers))
	}
	for i, r := range reqs {
		if !streamed(r) {
			t.Errorf("turn %d was not streamed: %s", i+1, r.Raw)
		}
		if sys := systemText(r); !strings.HasPrefix(sys, "You are "+speakers[i]+",") {
			t.Errorf("turn %d: request built for someone else than %s: system %q", i+1, speakers[i], sys)
		}
		if m, _ := r.Body["model"].(string); m != model {
			t.Errorf("turn %d: model %q, want %q", i+1, m, model)
		}
	}
}

func checkContents(t *testing.T, conv *domain.Conversation, replies []string) {
	t.Helper()
	if len(conv.Turns) != len(replies) {
		t.Fatalf("%d turns, want %d", len(conv.Turns), len(replies))
	}
	for i, tn := range conv.Turns {
		if tn.Content != replies[i] {
			t.Errorf("turn %d content %q, want %q", i+1, tn.Content, replies[i])
		}
	}
}

func script(s *llmtest.Server, replies ...string) {
	for _, r := range replies {
		s.Reply(r)
	}
}

// TestRoundRobinThroughOpenAI: three participants speak in order A, B, C, A, B, each turn a
// streamed OpenAI request built for its speaker that carries the transcript from its view.
func TestRoundRobinThroughOpenAI(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	replies := []string{"Ada opens the topic.", "Bob adds a point.", "Carol raises a doubt.", "Ada answers it.", "Bob wraps up."}
	script(fake, replies...)
	parts := h.openAIAgents("Ada", "Bob", "Carol")
	id := h.start(domain.ConversationSpec{Strategy: domain.RoundRobin, Participants: parts, MaxTurns: 5,
		InitialPrompt: "Open with your view."})
	h.mustWork(h.worker(fakes{openai: fake}.registry()), id)

	conv, events := h.load(id)
	want := []string{"Ada", "Bob", "Carol", "Ada", "Bob"}
	if got := h.speakers(conv); !sameList(got, want) {
		t.Fatalf("speakers %v, want %v", got, want)
	}
	checkContents(t, conv, replies)
	checkTurnRequests(t, fake.Requests(), want, "gpt-4o-mini")
	end, meta := h.ended(events)
	if end.Reason != domain.EndMaxTurns || end.Detail != "5 turns" || meta.Actor != domain.System.ID {
		t.Fatalf("end %+v by %q", end, meta.Actor)
	}
	// Every turn event names its speaker and the circle, for the feeds.
	for _, e := range events {
		if e.Type == domain.EventConversationTurnTaken {
			var tt domain.ConversationTurnTaken
			if err := json.Unmarshal(e.Payload, &tt); err != nil {
				t.Fatal(err)
			}
			if e.Metadata.Extra[livefeed.MetadataAgent] != tt.Turn.SpeakerID || e.Metadata.Extra[livefeed.MetadataCircle] != h.circle {
				t.Errorf("turn %d metadata %v", tt.Turn.Number, e.Metadata.Extra)
			}
		}
	}
	// Ada's second turn sees her first as her own message, the others' as named user messages.
	got := conversationMessages(fake.Requests()[3])
	wantMsgs := []wireMessage{{"user", "Open with your view."}, {"assistant", replies[0]}, {"user", "Bob: " + replies[1]},
		{"user", "Carol: " + replies[2]}}
	if fmt.Sprint(got) != fmt.Sprint(wantMsgs) {
		t.Fatalf("Ada's second prompt %v, want %v", got, wantMsgs)
	}
	if sys := systemText(fake.Requests()[0]); !strings.Contains(sys, "Participants: @Ada, @Bob, @Carol") {
		t.Fatalf("briefing missing from %q", sys)
	}
	if fake.Pending() != 0 {
		t.Fatalf("%d scripted replies left", fake.Pending())
	}
}

// TestMentionBasedThroughAnthropic: an @Name hands over to that participant; no mention (or a
// speaker naming itself) continues in order after the last speaker.
func TestMentionBasedThroughAnthropic(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewAnthropic(t)
	replies := []string{
		"Over to @Carol.",                 // Ada -> Carol by mention
		"I agree with that.",              // Carol, no mention -> Ada (after Carol in order)
		"@Bob, what do you think?",        // Ada -> Bob by mention
		"I, @Bob, have nothing to add.",   // Bob names himself only -> Carol in order
		"Then that settles it for today.", // Carol, the last turn
	}
	script(fake, replies...)
	var parts []domain.Participant
	for _, n := range []string{"Ada", "Bob", "Carol"} {
		parts = append(parts, h.agent(n, domain.ProviderAnthropic, "claude-haiku-4-5"))
	}
	id := h.start(domain.ConversationSpec{Strategy: domain.MentionBased, Participants: parts, MaxTurns: 5})
	h.mustWork(h.worker(fakes{anthropic: fake}.registry()), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("5 turns"))
	want := []string{"Ada", "Carol", "Ada", "Bob", "Carol"}
	if got := h.speakers(conv); !sameList(got, want) {
		t.Fatalf("speakers %v, want %v", got, want)
	}
	checkContents(t, conv, replies)
	reqs := fake.Requests()
	checkTurnRequests(t, reqs, want, "claude-haiku-4-5")
	for i, r := range reqs {
		if r.Path != "/v1/messages" || r.Header.Get("anthropic-version") == "" {
			t.Errorf("request %d is not an Anthropic Messages call: %s %v", i, r.Path, r.Header)
		}
	}
	if !hasMessage(reqs[1], "Ada: Over to @Carol.") {
		t.Fatalf("Carol did not see Ada's hand-over: %v", conversationMessages(reqs[1]))
	}
}

// TestFreeFormThroughOllama: a mention wins; without one the next speaker is never the last.
func TestFreeFormThroughOllama(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOllama(t)
	replies := []string{
		"Let us begin. @Carol, please open.",
		"Gladly, the topic is wide.",
		"Mentioning @Ada and @Bob here.",
		"A plain remark.",
		"Another plain remark.",
		"Closing words.",
	}
	script(fake, replies...)
	var parts []domain.Participant
	for _, n := range []string{"Ada", "Bob", "Carol"} {
		parts = append(parts, h.agent(n, domain.ProviderOllama, "llama3.2"))
	}
	id := h.start(domain.ConversationSpec{Strategy: domain.FreeForm, Participants: parts, MaxTurns: 6})
	h.mustWork(h.worker(fakes{ollama: fake}.registry()), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("6 turns"))
	got := h.speakers(conv)
	checkContents(t, conv, replies)
	if got[0] != "Ada" || got[1] != "Carol" {
		t.Fatalf("speakers %v: want Ada first and Carol (mentioned) second", got)
	}
	// Turn 3 mentions @Ada then @Bob: the first one who is not turn 3's speaker answers.
	wantFourth := "Ada"
	if got[2] == "Ada" {
		wantFourth = "Bob"
	}
	if got[3] != wantFourth {
		t.Fatalf("speakers %v: turn 4 should be %s, mentioned in turn 3", got, wantFourth)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("speakers %v: %s spoke twice in a row (turns %d and %d)", got, got[i], i, i+1)
		}
	}
	reqs := fake.Requests()
	checkTurnRequests(t, reqs, got, "llama3.2")
	for i, r := range reqs {
		if r.Path != "/api/chat" {
			t.Errorf("request %d went to %s", i, r.Path)
		}
	}
}

// TestFacilitatorLed: the facilitator (not the first participant) opens and speaks every other
// turn; its @mention picks who answers, an answerer's mention does not, and without one the
// next after the last to answer does.
func TestFacilitatorLed(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	replies := []string{
		"Welcome. @Carol, your view?",          // Bob (facilitator) -> Carol
		"My view is simple.",                   // Carol -> Bob
		"Thanks. @Ada, and yours?",             // Bob -> Ada
		"Mine differs. @Carol might disagree.", // Ada -> Bob (the facilitator, not Carol)
		"Anyone else?",                         // Bob, no mention -> Carol (after Ada among Ada, Carol)
		"Yes, one more point.",                 // Carol
	}
	script(fake, replies...)
	parts := h.openAIAgents("Ada", "Bob", "Carol")
	id := h.start(domain.ConversationSpec{Strategy: domain.FacilitatorLed, FacilitatorID: parts[1].AgentID,
		Participants: parts, MaxTurns: 6})
	h.mustWork(h.worker(fakes{openai: fake}.registry()), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("6 turns"))
	want := []string{"Bob", "Carol", "Bob", "Ada", "Bob", "Carol"}
	if got := h.speakers(conv); !sameList(got, want) {
		t.Fatalf("speakers %v, want %v", got, want)
	}
	checkContents(t, conv, replies)
	checkTurnRequests(t, fake.Requests(), want, "gpt-4o-mini")
}

// TestModelSelected: before each turn the worker asks the first participant's model, without
// streaming, to name the next speaker among the participants; the named one then streams.
func TestModelSelected(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	fake.Reply("Carol").Reply("Carol here, speaking first.").Reply("I pick Bob.").Reply("Bob here, answering Carol.")
	parts := h.openAIAgents("Ada", "Bob", "Carol")
	id := h.start(domain.ConversationSpec{Strategy: domain.ModelSelected, Participants: parts, MaxTurns: 2})
	models := &hookModels{inner: fakes{openai: fake}.registry()}
	h.mustWork(h.worker(models), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("2 turns"))
	if got := h.speakers(conv); !sameList(got, []string{"Carol", "Bob"}) {
		t.Fatalf("speakers %v, want Carol then Bob", got)
	}
	checkContents(t, conv, []string{"Carol here, speaking first.", "Bob here, answering Carol."})
	if s, c := models.counts(); s != 2 || c != 2 {
		t.Fatalf("%d streamed and %d complete calls, want 2 and 2", s, c)
	}
	reqs := fake.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4 (select, turn, select, turn)", len(reqs))
	}
	for _, i := range []int{0, 2} {
		r := reqs[i]
		msgs := conversationMessages(r)
		if streamed(r) || !strings.Contains(systemText(r), "You choose the next speaker") ||
			len(msgs) == 0 || msgs[len(msgs)-1].text != "Who should speak next? Answer with exactly one name from: Ada, Bob, Carol." {
			t.Fatalf("selector request %d: streamed=%v system %q messages %v", i, streamed(r), systemText(r), msgs)
		}
	}
	if !hasMessage(reqs[2], "Carol: Carol here, speaking first.") {
		t.Fatalf("the second selection did not see turn 1: %v", conversationMessages(reqs[2]))
	}
	checkTurnRequests(t, []llmtest.Request{reqs[1], reqs[3]}, []string{"Carol", "Bob"}, "gpt-4o-mini")
}

// TestMixedProvidersShareAConversation: one conversation whose participants use OpenAI,
// Anthropic and Ollama; each fake receives exactly its participant's turns.
func TestMixedProvidersShareAConversation(t *testing.T) {
	h := newHarness(t)
	oa, an, ol := llmtest.NewOpenAI(t), llmtest.NewAnthropic(t), llmtest.NewOllama(t)
	oa.Reply("OpenAI speaking.").Reply("OpenAI again.")
	an.Reply("Anthropic speaking.")
	ol.Reply("Ollama speaking.")
	parts := []domain.Participant{h.agent("Ada", domain.ProviderOpenAI, "gpt-4o-mini"),
		h.agent("Bob", domain.ProviderAnthropic, "claude-haiku-4-5"), h.agent("Carol", domain.ProviderOllama, "llama3.2")}
	id := h.start(domain.ConversationSpec{Strategy: domain.RoundRobin, Participants: parts, MaxTurns: 4})
	h.mustWork(h.worker(fakes{oa, an, ol}.registry()), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("4 turns"))
	checkContents(t, conv, []string{"OpenAI speaking.", "Anthropic speaking.", "Ollama speaking.", "OpenAI again."})
	checkTurnRequests(t, oa.Requests(), []string{"Ada", "Ada"}, "gpt-4o-mini")
	checkTurnRequests(t, an.Requests(), []string{"Bob"}, "claude-haiku-4-5")
	checkTurnRequests(t, ol.Requests(), []string{"Carol"}, "llama3.2")
	if !hasMessage(ol.Requests()[0], "Bob: Anthropic speaking.") || !hasMessage(oa.Requests()[1], "Carol: Ollama speaking.") {
		t.Fatal("a provider's turn did not reach the next speaker's prompt")
	}
}

// TestWorkerEndReasons: every way a conversation ends is recorded in its end event, and the
// worker makes no model call once the conversation has ended.
func TestWorkerEndReasons(t *testing.T) {
	h := newHarness(t)

	t.Run("max_turns", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		script(fake, "one", "two", "three")
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 3})
		w := h.worker(fakes{openai: fake}.registry())
		h.mustWork(w, id)
		conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("3 turns"))
		if len(conv.Turns) != 3 || len(fake.Requests()) != 3 {
			t.Fatalf("%d turns, %d requests", len(conv.Turns), len(fake.Requests()))
		}
		h.mustWork(w, id) // a retried job after the end asks nobody
		if len(fake.Requests()) != 3 {
			t.Fatal("a job after the end called the model")
		}
	})

	t.Run("completion_marker", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		script(fake, "Here is the plan.", "Agreed, we are finished. [DONE]")
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 10})
		h.mustWork(h.worker(fakes{openai: fake}.registry()), id)
		conv, _ := h.expectEnd(id, domain.EndCompletionMarker, equals("[DONE] in turn 2"))
		if len(conv.Turns) != 2 || len(fake.Requests()) != 2 || conv.Turns[1].Content != "Agreed, we are finished. [DONE]" {
			t.Fatalf("%d turns, %d requests: %+v", len(conv.Turns), len(fake.Requests()), conv.Turns)
		}
	})

	t.Run("stopped_before_work", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t) // nothing scripted: any request fails the test
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5})
		h.stop(id, "stopped before it began")
		h.mustWork(h.worker(fakes{openai: fake}.registry()), id)
		conv, events := h.load(id)
		end, meta := h.ended(events)
		if conv.Reason != domain.EndStopped || end.Detail != "stopped before it began" || meta.Actor != h.owner.ID {
			t.Fatalf("end %+v by %q", end, meta.Actor)
		}
		if len(conv.Turns) != 0 || len(fake.Requests()) != 0 {
			t.Fatalf("%d turns, %d requests after a stop", len(conv.Turns), len(fake.Requests()))
		}
	})

	t.Run("stopped_between_jobs", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		fake.Reply("The only turn.")
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5})
		crash := errors.New("the process died")
		models := &hookModels{inner: fakes{openai: fake}.registry(), before: func(n int) error {
			if n == 2 {
				return crash
			}
			return nil
		}}
		if err := h.work(h.ctx, h.worker(models), id); !errors.Is(err, crash) {
			t.Fatalf("first job: %v, want the crash", err)
		}
		h.stop(id, "enough")
		again := &hookModels{inner: fakes{openai: fake}.registry()}
		h.mustWork(h.worker(again), id)
		conv, _ := h.expectEnd(id, domain.EndStopped, equals("enough"))
		if s, c := again.counts(); s+c != 0 || len(conv.Turns) != 1 || len(fake.Requests()) != 1 {
			t.Fatalf("after the stop: %d+%d model calls, %d turns, %d requests", s, c, len(conv.Turns), len(fake.Requests()))
		}
	})

	t.Run("stopped_while_a_turn_streams", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		script(fake, "First turn.", "Written while the owner stopped it.")
		var id string
		models := &hookModels{inner: fakes{openai: fake}.registry(), before: func(n int) error {
			if n == 2 {
				h.stop(id, "stopped mid-turn")
			}
			return nil
		}}
		id = h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5})
		h.mustWork(h.worker(models), id)
		conv, _ := h.expectEnd(id, domain.EndStopped, equals("stopped mid-turn"))
		if s, _ := models.counts(); s != 2 || len(conv.Turns) != 1 || conv.Turns[0].Content != "First turn." {
			t.Fatalf("%d model calls, turns %+v: the turn written during the stop must not be recorded, nor another taken", s, conv.Turns)
		}
	})

	t.Run("time_limit_before_the_first_turn", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5, TimeLimitSec: 60})
		w := h.worker(fakes{openai: fake}.registry())
		w.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		h.mustWork(w, id)
		conv, _ := h.expectEnd(id, domain.EndTimeLimit, equals("60 seconds"))
		if _, events := h.load(id); len(events) != 2 {
			t.Fatalf("%d events, want created and ended only", len(events))
		} else if _, meta := h.ended(events); meta.Actor != domain.System.ID {
			t.Fatalf("ended by %q", meta.Actor)
		}
		if len(conv.Turns) != 0 || len(fake.Requests()) != 0 {
			t.Fatalf("%d turns, %d requests past the time limit", len(conv.Turns), len(fake.Requests()))
		}
	})

	t.Run("time_limit_between_turns", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		script(fake, "Within the limit.", "Still within it when asked.")
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5, TimeLimitSec: 60})
		var late atomic.Bool
		models := &hookModels{inner: fakes{openai: fake}.registry(), after: func(n int, _ llm.Response, _ error) {
			if n == 2 {
				late.Store(true) // the clock passes the limit while turn 2 is written
			}
		}}
		w := h.worker(models)
		w.Now = func() time.Time {
			if late.Load() {
				return time.Now().Add(61 * time.Second)
			}
			return time.Now()
		}
		h.mustWork(w, id)
		conv, _ := h.expectEnd(id, domain.EndTimeLimit, equals("60 seconds"))
		if s, _ := models.counts(); s != 2 || len(conv.Turns) != 2 {
			t.Fatalf("%d model calls, %d turns; want turn 2 kept and no turn 3", s, len(conv.Turns))
		}
	})

	t.Run("failed_auth_openai", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		fake.Fail(401, 0)
		id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5})
		w := h.worker(fakes{openai: fake}.registry())
		h.mustWork(w, id)
		_, end := h.expectEnd(id, domain.EndFailed, hasPrefix("auth: "))
		if !strings.Contains(end.Detail, "401") || strings.Contains(end.Detail, llmtest.Key) {
			t.Fatalf("detail %q", end.Detail)
		}
		h.mustWork(w, id)
		if len(fake.Requests()) != 1 {
			t.Fatalf("%d requests; the failure must not be retried by the job", len(fake.Requests()))
		}
	})

	t.Run("failed_bad_request_anthropic", func(t *testing.T) {
		fake := llmtest.NewAnthropic(t)
		fake.Reply("Turn one is fine.").Fail(400, 0)
		parts := []domain.Participant{h.agent("Ada", domain.ProviderAnthropic, "claude-haiku-4-5"),
			h.agent("Bob", domain.ProviderAnthropic, "claude-haiku-4-5")}
		id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 5})
		h.mustWork(h.worker(fakes{anthropic: fake}.registry()), id)
		conv, end := h.expectEnd(id, domain.EndFailed, hasPrefix("bad_request: "))
		if !strings.Contains(end.Detail, "400") || len(conv.Turns) != 1 || len(fake.Requests()) != 2 {
			t.Fatalf("detail %q, %d turns, %d requests", end.Detail, len(conv.Turns), len(fake.Requests()))
		}
	})

	t.Run("failed_unavailable_ollama", func(t *testing.T) {
		fake := llmtest.NewOllama(t)
		fake.Fail(500, 0)
		parts := []domain.Participant{h.agent("Ada", domain.ProviderOllama, "llama3.2"), h.agent("Bob", domain.ProviderOllama, "llama3.2")}
		id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 5})
		h.mustWork(h.worker(fakes{ollama: fake}.registry()), id)
		h.expectEnd(id, domain.EndFailed, hasPrefix("unavailable: "))
		if len(fake.Requests()) != 1 {
			t.Fatalf("%d requests with retries disabled", len(fake.Requests()))
		}
	})

	t.Run("failed_selector", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		fake.Fail(401, 0)
		id := h.start(domain.ConversationSpec{Strategy: domain.ModelSelected, Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 5})
		models := &hookModels{inner: fakes{openai: fake}.registry()}
		h.mustWork(h.worker(models), id)
		_, end := h.expectEnd(id, domain.EndFailed, hasPrefix("choosing the next speaker: "))
		if s, c := models.counts(); !strings.Contains(end.Detail, "auth") || s != 0 || c != 1 {
			t.Fatalf("detail %q, %d streamed, %d selections", end.Detail, s, c)
		}
	})

	t.Run("failed_participant_deleted", func(t *testing.T) {
		fake := llmtest.NewOpenAI(t)
		fake.Reply("Ada still exists.")
		parts := h.openAIAgents("Ada", "Bob")
		id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 5})
		if _, err := h.bus.Send(h.ctx, &commands.DeleteAgent{Envelope: commands.NewEnvelope(h.owner, ""), AgentID: parts[1].AgentID}); err != nil {
			t.Fatal(err)
		}
		h.mustWork(h.worker(fakes{openai: fake}.registry()), id)
		conv, _ := h.expectEnd(id, domain.EndFailed, equals("bad_request: participant "+parts[1].AgentID+" was deleted"))
		if len(conv.Turns) != 1 || len(fake.Requests()) != 1 {
			t.Fatalf("%d turns, %d requests", len(conv.Turns), len(fake.Requests()))
		}
	})
}

// TestPersonPostReachesTheNextTurn: a post made after turn 1 was recorded (while the job was
// down) is in the prompt of turn 2 right after turn 1, and of every later turn.
func TestPersonPostReachesTheNextTurn(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	script(fake, "Ada's opening.", "Bob answers the person.", "Ada closes.")
	parts := h.openAIAgents("Ada", "Bob")
	id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 3})
	crash := errors.New("the process died")
	first := &hookModels{inner: fakes{openai: fake}.registry(), before: func(n int) error {
		if n == 2 {
			return crash
		}
		return nil
	}}
	if err := h.work(h.ctx, h.worker(first), id); !errors.Is(err, crash) {
		t.Fatalf("first job: %v", err)
	}
	if conv, _ := h.load(id); len(conv.Turns) != 1 {
		t.Fatalf("%d turns after the first job, want 1", len(conv.Turns))
	}
	h.post(id, "Please consider the budget.")
	h.mustWork(h.worker(fakes{openai: fake}.registry()), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("3 turns"))
	if len(conv.Messages) != 1 || conv.Messages[0].AfterTurn != 1 || conv.Messages[0].Author != h.owner.ID {
		t.Fatalf("posts %+v, want one by the owner after turn 1", conv.Messages)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	const said = "A person says: Please consider the budget."
	if hasMessage(reqs[0], said) {
		t.Fatal("turn 1 saw a post made after it")
	}
	got := conversationMessages(reqs[1])
	if n := len(got); n < 2 || got[n-2] != (wireMessage{"user", "Ada: Ada's opening."}) || got[n-1] != (wireMessage{"user", said}) {
		t.Fatalf("Bob's prompt %v: want the post right after Ada's turn 1", got)
	}
	got = conversationMessages(reqs[2])
	if n := len(got); n < 3 || got[n-3] != (wireMessage{"assistant", "Ada's opening."}) || got[n-2] != (wireMessage{"user", said}) {
		t.Fatalf("Ada's second prompt %v: want the post after her turn 1", got)
	}
	checkContents(t, conv, []string{"Ada's opening.", "Bob answers the person.", "Ada closes."})
}

// TestPostWhileATurnIsWrittenRetakesTheTurn: a post arriving while turn 2 streams makes that
// turn be refused and written again with the post in its prompt; no turn is recorded twice.
func TestPostWhileATurnIsWrittenRetakesTheTurn(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	script(fake, "Ada's opening.", "Bob, unaware of the post.", "Bob, answering the post.", "Ada closes.")
	id := h.start(domain.ConversationSpec{Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 3})
	models := &hookModels{inner: fakes{openai: fake}.registry(), before: func(n int) error {
		if n == 2 {
			h.post(id, "Mind the deadline.")
		}
		return nil
	}}
	h.mustWork(h.worker(models), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("3 turns"))
	checkContents(t, conv, []string{"Ada's opening.", "Bob, answering the post.", "Ada closes."})
	if len(conv.Messages) != 1 || conv.Messages[0].AfterTurn != 1 {
		t.Fatalf("posts %+v", conv.Messages)
	}
	reqs := fake.Requests()
	const said = "A person says: Mind the deadline."
	if len(reqs) != 4 || hasMessage(reqs[1], said) || !hasMessage(reqs[2], said) || !hasMessage(reqs[3], said) {
		t.Fatalf("%d requests; the post must reach the retaken turn 2 and turn 3", len(reqs))
	}
}

// TestResumeAfterACancelledTurnWithoutDuplicates: the job's context is cancelled as turn 3 is
// sent (a shutdown or a lost lease); the conversation must not end, and the retried job takes
// turns 3.. once each, calling the model once per turn it records.
func TestResumeAfterACancelledTurnWithoutDuplicates(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	replies := []string{"One.", "Two.", "Three.", "Four.", "Five."}
	script(fake, replies...)
	parts := h.openAIAgents("Ada", "Bob", "Carol")
	id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 5})

	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	first := &hookModels{inner: fakes{openai: fake}.registry(), before: func(n int) error {
		if n == 3 {
			cancel()
		}
		return nil
	}}
	if err := h.work(ctx, h.worker(first), id); err == nil {
		t.Fatal("the cancelled job reported success")
	}
	time.Sleep(100 * time.Millisecond) // a command sent with the cancelled context would land by now
	conv, _ := h.load(id)
	if conv.Ended || len(conv.Turns) != 2 {
		t.Fatalf("after the crash: ended=%v (%s), %d turns; want 2 turns and still running", conv.Ended, conv.Reason, len(conv.Turns))
	}

	again := &hookModels{inner: fakes{openai: fake}.registry()}
	retried := h.worker(again)
	h.mustWork(retried, id)
	conv, _ = h.expectEnd(id, domain.EndMaxTurns, equals("5 turns"))
	_, events := h.load(id)
	if got := h.speakers(conv); !sameList(got, []string{"Ada", "Bob", "Carol", "Ada", "Bob"}) {
		t.Fatalf("speakers %v", got)
	}
	checkContents(t, conv, replies)
	recorded := map[int]int{}
	for _, e := range events {
		if e.Type == domain.EventConversationTurnTaken {
			var tt domain.ConversationTurnTaken
			if err := json.Unmarshal(e.Payload, &tt); err != nil {
				t.Fatal(err)
			}
			recorded[tt.Turn.Number]++
		}
	}
	for n := 1; n <= 5; n++ {
		if recorded[n] != 1 {
			t.Fatalf("turn %d recorded %d times (%v)", n, recorded[n], recorded)
		}
	}
	if len(recorded) != 5 {
		t.Fatalf("turn numbers %v", recorded)
	}
	if s, c := again.counts(); s != 3 || c != 0 {
		t.Fatalf("%d model calls after the crash for 3 turns", s)
	}
	if len(fake.Requests()) != 5 || fake.Pending() != 0 {
		t.Fatalf("%d requests, %d replies left", len(fake.Requests()), fake.Pending())
	}
	h.mustWork(retried, id)
	if s, _ := again.counts(); s != 3 {
		t.Fatal("a job after the end called the model")
	}
}

// TestResumeAfterACancelledSelection: the job is cancelled while the selector model is asked
// who speaks next; the conversation does not fail, and the retried job selects and goes on.
func TestResumeAfterACancelledSelection(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	script(fake, "Bob", "Bob speaks.", "Ada", "Ada speaks.", "Bob", "Bob again.")
	id := h.start(domain.ConversationSpec{Strategy: domain.ModelSelected, Participants: h.openAIAgents("Ada", "Bob"), MaxTurns: 3})

	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	first := &hookModels{inner: fakes{openai: fake}.registry(), beforeComplete: func(n int) error {
		if n == 2 {
			cancel()
		}
		return nil
	}}
	if err := h.work(ctx, h.worker(first), id); err == nil {
		t.Fatal("the cancelled job reported success")
	}
	time.Sleep(100 * time.Millisecond)
	if conv, _ := h.load(id); conv.Ended || len(conv.Turns) != 1 {
		t.Fatalf("after the cancelled selection: ended=%v (%s), %d turns", conv.Ended, conv.Reason, len(conv.Turns))
	}

	again := &hookModels{inner: fakes{openai: fake}.registry()}
	h.mustWork(h.worker(again), id)
	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("3 turns"))
	if got := h.speakers(conv); !sameList(got, []string{"Bob", "Ada", "Bob"}) {
		t.Fatalf("speakers %v", got)
	}
	checkContents(t, conv, []string{"Bob speaks.", "Ada speaks.", "Bob again."})
	if s, c := again.counts(); s != 2 || c != 2 || fake.Pending() != 0 || len(fake.Requests()) != 6 {
		t.Fatalf("retry: %d streamed, %d selections; %d requests, %d replies left", s, c, len(fake.Requests()), fake.Pending())
	}
}

// TestTokensAreStreamedWhileATurnIsWritten: each delta of a turn is transmitted as a
// conversation.token message on the transient channel before the turn is recorded, and the
// deltas of a turn join to its recorded content, through all three wire formats.
func TestTokensAreStreamedWhileATurnIsWritten(t *testing.T) {
	h := newHarness(t)
	notifier := eventlog.NewNotifier(h.db.DSN, zerolog.Nop())
	t.Cleanup(notifier.Close)
	select {
	case <-notifier.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("notifier not listening")
	}
	tokens, unsubscribe := notifier.SubscribeTransient()
	defer unsubscribe()

	oa, an, ol := llmtest.NewOpenAI(t), llmtest.NewAnthropic(t), llmtest.NewOllama(t)
	replies := []string{"OpenAI streams these few words.", "Anthropic streams a reply too.", "And Ollama streams the last one."}
	oa.Reply(replies[0])
	an.Reply(replies[1])
	ol.Reply(replies[2])
	parts := []domain.Participant{h.agent("Ada", domain.ProviderOpenAI, "gpt-4o-mini"),
		h.agent("Bob", domain.ProviderAnthropic, "claude-haiku-4-5"), h.agent("Carol", domain.ProviderOllama, "llama3.2")}
	id := h.start(domain.ConversationSpec{Participants: parts, MaxTurns: 3})

	type token struct {
		ConversationID string `json:"conversation_id"`
		SpeakerID      string `json:"speaker_id"`
		Delta          string `json:"delta"`
	}
	deltas := make([][]string, 4) // by turn number
	// After each model call returns, and before the worker records the turn, the turn's tokens
	// must already have gone out.
	models := &hookModels{inner: fakes{oa, an, ol}.registry(), after: func(n int, resp llm.Response, err error) {
		if err != nil {
			t.Errorf("turn %d: %v", n, err)
			return
		}
		deadline := time.After(10 * time.Second)
		for strings.Join(deltas[n], "") != resp.Content {
			select {
			case payload := <-tokens:
				var m livefeed.Message
				if err := json.Unmarshal([]byte(payload), &m); err != nil {
					t.Errorf("payload %q: %v", payload, err)
					return
				}
				var tok token
				if err := json.Unmarshal(m.Data, &tok); err != nil {
					t.Errorf("data %s: %v", m.Data, err)
					return
				}
				if m.Type != "conversation.token" || tok.ConversationID != id || tok.SpeakerID != parts[n-1].AgentID ||
					!sameList(m.Topics, []string{"conversations:" + id, "circles:" + h.circle}) ||
					m.Stream.ID != domain.ConversationStreamID(id) || m.Stream.Type != domain.StreamTypeConversation {
					t.Errorf("turn %d: unexpected token message %s", n, payload)
					return
				}
				deltas[n] = append(deltas[n], tok.Delta)
			case <-deadline:
				t.Errorf("turn %d: tokens %q never joined to %q", n, deltas[n], resp.Content)
				return
			}
		}
		if conv, _, err := h.repo.LoadConversation(h.ctx, id); err != nil || len(conv.Turns) != n-1 {
			t.Errorf("turn %d was recorded before its tokens were all out (%v)", n, err)
		}
	}}
	h.mustWork(h.worker(models), id)

	conv, _ := h.expectEnd(id, domain.EndMaxTurns, equals("3 turns"))
	checkContents(t, conv, replies)
	for n := 1; n <= 3; n++ {
		if got := strings.Join(deltas[n], ""); got != conv.Turns[n-1].Content {
			t.Errorf("turn %d: deltas join to %q, recorded %q", n, got, conv.Turns[n-1].Content)
		}
		if words := len(strings.Fields(replies[n-1])); len(deltas[n]) < words {
			t.Errorf("turn %d came in %d deltas, want one per word (%d)", n, len(deltas[n]), words)
		}
	}
	select {
	case extra := <-tokens:
		t.Fatalf("a token after the last turn: %s", extra)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestRecalledContextReachesTheSpeakerAndIsRecorded: each speaker's prompt carries what recall
// found for it, and the turn records it; a failing recall does not stop the conversation.
func TestRecalledContextReachesTheSpeakerAndIsRecorded(t *testing.T) {
	h := newHarness(t)
	fake := llmtest.NewOpenAI(t)
	script(fake, "Ada remembers.", "Bob goes on.")
	parts := h.openAIAgents("Ada", "Bob")
	id := h.start(domain.ConversationSpec{Strategy: domain.RoundRobin, Participants: parts, MaxTurns: 2})
	w := h.worker(fakes{openai: fake}.registry())
	var asked []string
	w.Recall = func(_ context.Context, agentID, text string) (*domain.InjectedContext, error) {
		asked = append(asked, agentID)
		if agentID == parts[1].AgentID {
			return nil, errors.New("index unavailable")
		}
		return &domain.InjectedContext{Block: "What you remember: the release is on Friday.",
			Items: []domain.ContextItem{{ID: "m1", Kind: "memory", Score: 0.8}}, Tokens: 12}, nil
	}
	h.mustWork(w, id)
	conv, _ := h.load(id)
	if len(conv.Turns) != 2 || len(asked) != 2 || asked[0] != parts[0].AgentID {
		t.Fatalf("turns %d, recall asked for %v", len(conv.Turns), asked)
	}
	reqs := fake.Requests()
	if !strings.Contains(systemText(reqs[0]), "the release is on Friday") || strings.Contains(systemText(reqs[1]), "Friday") {
		t.Fatalf("system prompts:\n%s\n---\n%s", systemText(reqs[0]), systemText(reqs[1]))
	}
	if c := conv.Turns[0].Context; c == nil || len(c.Items) != 1 || c.Items[0].ID != "m1" || conv.Turns[1].Context != nil {
		t.Fatalf("recorded context: %+v / %+v", conv.Turns[0].Context, conv.Turns[1].Context)
	}
}
