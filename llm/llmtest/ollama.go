package llmtest

import (
	"fmt"
	"net/http"
	"testing"
)

// NewOllama starts a fake of Ollama's POST /api/chat (JSON, or NDJSON when "stream" is true or
// absent, as in Ollama) and POST /api/embed. It needs no key unless RequireKey sets one (a
// Bearer token, as ollama.com takes). Point a provider at BaseURL().
func NewOllama(t testing.TB) *Server { return newServer(t, "ollama", "", serveOllama) }

const ollamaCreatedAt = "2025-01-01T00:00:00.000000Z"

func serveOllama(s *Server, w http.ResponseWriter, r *http.Request, rec Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/api/embed" {
		serveOllamaEmbed(s, w, r, rec)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/chat" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "404 page not found"})
		return
	}
	if key := s.requiredKey(); key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
		return
	}
	if rec.Body == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid character in request body"})
		return
	}
	model, _ := rec.Body["model"].(string)
	if model == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "model is required"})
		return
	}
	st, ok := s.next()
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "unscripted request"})
		return
	}
	if st.status > 0 {
		setRetryAfter(w, st)
		ollamaFailure(w, st.status, model)
		return
	}

	var calls []any
	for i, c := range st.calls {
		calls = append(calls, map[string]any{"function": map[string]any{
			"index": i, "name": c.Name, "arguments": argsObject(s.t, c.Args),
		}})
	}
	final := map[string]any{
		"model": model, "created_at": ollamaCreatedAt, "done": true, "done_reason": "stop",
		"total_duration": 1_000_000, "load_duration": 1_000, "prompt_eval_count": inputTokens(rec.Body),
		"prompt_eval_duration": 1_000, "eval_count": st.outputTokens(), "eval_duration": 1_000,
	}

	stream, set := rec.Body["stream"].(bool)
	if set && !stream {
		msg := map[string]any{"role": "assistant", "content": st.text}
		if len(calls) > 0 {
			msg["tool_calls"] = calls
		}
		final["message"] = msg
		writeJSON(w, http.StatusOK, final)
		return
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	line := func(v map[string]any) {
		fmt.Fprintf(w, "%s\n", mustJSON(v))
		flush(w)
	}
	for _, word := range words(st.text) {
		line(map[string]any{"model": model, "created_at": ollamaCreatedAt,
			"message": map[string]any{"role": "assistant", "content": word}, "done": false})
	}
	if len(calls) > 0 {
		// Ollama sends tool calls whole, in one chunk.
		line(map[string]any{"model": model, "created_at": ollamaCreatedAt,
			"message": map[string]any{"role": "assistant", "content": "", "tool_calls": calls}, "done": false})
	}
	final["message"] = map[string]any{"role": "assistant", "content": ""}
	line(final)
}

// ollamaFailure answers a scripted failure with status.
func ollamaFailure(w http.ResponseWriter, status int, model string) {
	switch {
	case status == http.StatusUnauthorized:
		writeJSON(w, status, map[string]any{"error": "unauthorized"})
	case status == http.StatusNotFound:
		writeJSON(w, status, map[string]any{"error": fmt.Sprintf("model %q not found, try pulling it first", model)})
	case status >= 500:
		writeJSON(w, status, map[string]any{"error": "llama runner process has terminated"})
	default:
		writeJSON(w, status, map[string]any{"error": fmt.Sprintf("scripted failure %d", status)})
	}
}
