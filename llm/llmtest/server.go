// Package llmtest has fake OpenAI, Anthropic and Ollama servers for tests: real HTTP servers on
// 127.0.0.1 that speak each provider's documented wire format, streaming included. A test
// scripts the answers (Reply, CallTool, Fail), points a provider at URL, and asserts on the
// requests the fake recorded.
//
// The OpenAI and Ollama fakes also answer embedding requests (POST /v1/embeddings, POST
// /api/embed), apart from the script: their vectors are the offline embedder's
// (llm.NewOfflineEmbedder) at the requested dimension, so they are deterministic and similar
// texts get similar vectors. FailEmbeddings, EmbedCalls and EmbeddedTexts script and observe
// them.
package llmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Key is the API key the OpenAI and Anthropic fakes accept (see Server.RequireKey).
const Key = "test-key-0123456789"

// Call is one tool call a scripted answer makes.
type Call struct {
	ID   string
	Name string
	Args string // JSON object
}

// Request is one request a fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Raw    []byte
	// Body is Raw parsed as a JSON object (nil if it was not one).
	Body map[string]any
}

// Messages returns the body's "messages" array as objects.
func (r Request) Messages() []map[string]any { return Objects(r.Body["messages"]) }

// Objects converts a decoded JSON array of objects; anything else gives nil.
func Objects(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

type step struct {
	text       string
	calls      []Call
	status     int // > 0: fail with this status
	retryAfter int
}

// Server is a fake provider. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	t       testing.TB
	flavour string // openai, anthropic, ollama

	mu       sync.Mutex
	key      string
	script   []step
	requests []Request

	// wordDelay paces streamed words, so that a browser watching the stream sees it grow.
	wordDelay time.Duration

	// Embedding requests are answered apart from the chat script.
	embedFails    []int
	embedDim      int
	embedCalls    int
	embeddedTexts int
}

func newServer(t testing.TB, flavour, key string, h func(*Server, http.ResponseWriter, *http.Request, Request)) *Server {
	t.Helper()
	s := &Server{t: t, flavour: flavour, key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: raw}
		_ = json.Unmarshal(raw, &rec.Body)
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		h(s, w, r, rec)
	}))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the value for the provider's BaseURL setting (OpenAI's includes /v1).
func (s *Server) BaseURL() string {
	if s.flavour == "openai" {
		return s.URL + "/v1"
	}
	return s.URL
}

// RequireKey sets the key the fake accepts; "" accepts any request (the Ollama default).
func (s *Server) RequireKey(key string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
	return s
}

func (s *Server) requiredKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// Reply queues an answer with text.
func (s *Server) Reply(text string) *Server { return s.push(step{text: text}) }

// CallTool queues an answer that calls one tool.
func (s *Server) CallTool(id, name, argsJSON string) *Server {
	return s.CallTools(Call{ID: id, Name: name, Args: argsJSON})
}

// CallTools queues an answer that calls several tools at once.
func (s *Server) CallTools(calls ...Call) *Server { return s.push(step{calls: calls}) }

// Fail queues an error response with status and, when retryAfterSeconds > 0, a Retry-After.
func (s *Server) Fail(status, retryAfterSeconds int) *Server {
	return s.push(step{status: status, retryAfter: retryAfterSeconds})
}

func (s *Server) push(st step) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, st)
	return s
}

// next takes the next scripted step; an unscripted request fails the test.
func (s *Server) next() (step, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		s.t.Errorf("llmtest: %s fake got a request beyond its script", s.flavour)
		return step{}, false
	}
	st := s.script[0]
	s.script = s.script[1:]
	return st, true
}

// FailEmbeddings queues a failure: the next well-formed, authorized embedding request is
// answered with status in the provider's documented error shape. Failures queue up
// (FailEmbeddings(500).FailEmbeddings(500) fails two requests). Embedding requests never
// consume the chat script, and Fail never applies to them.
func (s *Server) FailEmbeddings(status int) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedFails = append(s.embedFails, status)
	return s
}

// EmbeddingDimension sets the length of the vectors the fake returns when the request does not
// ask for one: always for Ollama (default 768), and for OpenAI models other than
// text-embedding-3-small, text-embedding-3-large and text-embedding-ada-002 (default 1536).
func (s *Server) EmbeddingDimension(dim int) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedDim = dim
	return s
}

// EmbedCalls is the number of embedding requests answered with vectors (failed ones are only in
// Requests).
func (s *Server) EmbedCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embedCalls
}

// EmbeddedTexts is the number of texts embedded by the requests EmbedCalls counts.
func (s *Server) EmbeddedTexts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embeddedTexts
}

// nextEmbedFailure takes the next status queued by FailEmbeddings (0: none).
func (s *Server) nextEmbedFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.embedFails) == 0 {
		return 0
	}
	st := s.embedFails[0]
	s.embedFails = s.embedFails[1:]
	return st
}

func (s *Server) embedDimension(def int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.embedDim > 0 {
		return s.embedDim
	}
	return def
}

func (s *Server) countEmbedding(texts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedCalls++
	s.embeddedTexts += texts
}

// Pending is the number of scripted answers not yet consumed.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Last returns the last request received (it fails the test if there was none).
func (s *Server) Last() Request {
	s.t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		s.t.Fatalf("llmtest: %s fake received no request", s.flavour)
	}
	return reqs[len(reqs)-1]
}

// id is a deterministic id for a scripted step, the same whether streamed or not.
func (st step) id() string {
	h := sha256.New()
	h.Write([]byte(st.text))
	for _, c := range st.calls {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%s", c.ID, c.Name, c.Args)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// outputTokens is the usage the fakes report for a step: words of text plus 10 per call.
func (st step) outputTokens() int { return len(strings.Fields(st.text)) + 10*len(st.calls) }

// inputTokens is the usage the fakes report for a request: 10 per message (so streamed and
// non-streamed requests of one conversation count the same).
func inputTokens(body map[string]any) int { return 10 * len(Objects(body["messages"])) }

// words splits text into pieces that each end after a space, so they join back to text.
func words(text string) []string {
	if text == "" {
		return nil
	}
	return strings.SplitAfter(text, " ")
}

// pieces splits s into n parts of similar size at rune boundaries (fewer if s is short).
func pieces(s string, n int) []string {
	var out []string
	for n > 1 && len(s) > 0 {
		cut := len(s) / n
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		if cut > 0 {
			out = append(out, s[:cut])
			s = s[cut:]
		}
		n--
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func setRetryAfter(w http.ResponseWriter, st step) {
	if st.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(st.retryAfter))
	}
}

// PaceWords makes the fake wait d between streamed words (OpenAI flavour), as a real model
// does; end-to-end tests use it to watch an answer grow.
func (s *Server) PaceWords(d time.Duration) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wordDelay = d
	return s
}

func (s *Server) pace() {
	s.mu.Lock()
	d := s.wordDelay
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// argsObject decodes a call's arguments (for formats that carry them as a JSON object).
func argsObject(t testing.TB, args string) map[string]any {
	if args == "" {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(args), &m); err != nil {
		t.Errorf("llmtest: tool arguments %q are not a JSON object: %v", args, err)
	}
	return m
}
