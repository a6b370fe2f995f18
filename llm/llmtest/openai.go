package llmtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// NewOpenAI starts a fake of OpenAI's Chat Completions API (POST /v1/chat/completions) and
// Embeddings API (POST /v1/embeddings) that accepts "Authorization: Bearer " + Key. Point a
// provider at BaseURL().
func NewOpenAI(t testing.TB) *Server { return newServer(t, "openai", Key, serveOpenAI) }

const openAICreated = 1_700_000_000

func serveOpenAI(s *Server, w http.ResponseWriter, r *http.Request, rec Request) {
	if r.Method == http.MethodPost && strings.TrimPrefix(r.URL.Path, "/v1") == "/embeddings" {
		serveOpenAIEmbeddings(s, w, r, rec)
		return
	}
	if r.Method != http.MethodPost || strings.TrimPrefix(r.URL.Path, "/v1") != "/chat/completions" {
		openAIError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "Invalid URL ("+r.Method+" "+r.URL.Path+")")
		return
	}
	if key := s.requiredKey(); key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		openAIError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
		return
	}
	if rec.Body == nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	st, ok := s.next()
	if !ok {
		openAIError(w, http.StatusInternalServerError, "server_error", "", "unscripted request")
		return
	}
	if st.status > 0 {
		setRetryAfter(w, st)
		openAIFailure(w, st.status)
		return
	}

	model, _ := rec.Body["model"].(string)
	id := "chatcmpl-" + st.id()
	finish := "stop"
	if len(st.calls) > 0 {
		finish = "tool_calls"
	}
	usage := map[string]any{
		"prompt_tokens":     inputTokens(rec.Body),
		"completion_tokens": st.outputTokens(),
		"total_tokens":      inputTokens(rec.Body) + st.outputTokens(),
	}

	if stream, _ := rec.Body["stream"].(bool); !stream {
		msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
		if st.text != "" || len(st.calls) == 0 {
			msg["content"] = st.text
		}
		if len(st.calls) > 0 {
			var calls []any
			for _, c := range st.calls {
				calls = append(calls, map[string]any{
					"id": c.ID, "type": "function",
					"function": map[string]any{"name": c.Name, "arguments": c.Args},
				})
			}
			msg["tool_calls"] = calls
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": openAICreated, "model": model,
			"choices": []any{map[string]any{
				"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish,
			}},
			"usage": usage, "system_fingerprint": "fp_fake",
		})
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	chunk := func(delta map[string]any, finishReason any) {
		fmt.Fprintf(w, "data: %s\n\n", mustJSON(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": openAICreated, "model": model,
			"system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{
				"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finishReason,
			}},
		}))
		flush(w)
	}
	chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)
	for _, word := range words(st.text) {
		chunk(map[string]any{"content": word}, nil)
		s.pace()
	}
	for i, c := range st.calls {
		chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": ""},
		}}}, nil)
		for _, part := range pieces(c.Args, 3) {
			chunk(map[string]any{"tool_calls": []any{map[string]any{
				"index": i, "function": map[string]any{"arguments": part},
			}}}, nil)
		}
	}
	chunk(map[string]any{}, finish)
	if opts, _ := rec.Body["stream_options"].(map[string]any); opts["include_usage"] == true {
		fmt.Fprintf(w, "data: %s\n\n", mustJSON(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": openAICreated, "model": model,
			"system_fingerprint": "fp_fake", "choices": []any{}, "usage": usage,
		}))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flush(w)
}

// openAIFailure answers a scripted failure with status.
func openAIFailure(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusUnauthorized:
		openAIError(w, status, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
	case status == http.StatusTooManyRequests:
		openAIError(w, status, "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s.")
	case status >= 500:
		openAIError(w, status, "server_error", "", "The server had an error while processing your request. Sorry about that!")
	default:
		openAIError(w, status, "invalid_request_error", "", fmt.Sprintf("scripted failure %d", status))
	}
}

func openAIError(w http.ResponseWriter, status int, typ, code, msg string) {
	var c any
	if code != "" {
		c = code
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": c,
	}})
}
