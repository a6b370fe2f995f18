package llmtest

import (
	"fmt"
	"net/http"
	"testing"
)

// NewAnthropic starts a fake of Anthropic's Messages API (POST /v1/messages) that requires an
// anthropic-version header and the key Key, as "x-api-key: " + Key or as
// "Authorization: Bearer " + Key (the form anthropic-sdk-go v2 sends). Point a provider at
// BaseURL().
func NewAnthropic(t testing.TB) *Server { return newServer(t, "anthropic", Key, serveAnthropic) }

func serveAnthropic(s *Server, w http.ResponseWriter, r *http.Request, rec Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	}
	if key := s.requiredKey(); key != "" && r.Header.Get("x-api-key") != key && r.Header.Get("Authorization") != "Bearer "+key {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("anthropic-version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	if rec.Body == nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with your request body.")
		return
	}
	if _, ok := rec.Body["max_tokens"].(float64); !ok {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	}
	st, ok := s.next()
	if !ok {
		anthropicError(w, http.StatusInternalServerError, "api_error", "unscripted request")
		return
	}
	if st.status > 0 {
		setRetryAfter(w, st)
		switch {
		case st.status == http.StatusTooManyRequests:
			anthropicError(w, st.status, "rate_limit_error", "Number of requests has exceeded your rate limit.")
		case st.status == 529:
			anthropicError(w, st.status, "overloaded_error", "Overloaded")
		case st.status >= 500:
			anthropicError(w, st.status, "api_error", "Internal server error")
		default:
			anthropicError(w, st.status, "invalid_request_error", fmt.Sprintf("scripted failure %d", st.status))
		}
		return
	}

	model, _ := rec.Body["model"].(string)
	id := "msg_" + st.id()
	stop := "end_turn"
	if len(st.calls) > 0 {
		stop = "tool_use"
	}
	in := inputTokens(rec.Body)

	if stream, _ := rec.Body["stream"].(bool); !stream {
		content := []any{}
		if st.text != "" {
			content = append(content, map[string]any{"type": "text", "text": st.text})
		}
		for _, c := range st.calls {
			content = append(content, map[string]any{
				"type": "tool_use", "id": c.ID, "name": c.Name, "input": argsObject(s.t, c.Args),
			})
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model, "content": content,
			"stop_reason": stop, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": st.outputTokens()},
		})
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	event := func(name string, data map[string]any) {
		data["type"] = name
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, mustJSON(data))
		flush(w)
	}
	event("message_start", map[string]any{"message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": 1},
	}})
	event("ping", map[string]any{})
	index := 0
	if st.text != "" {
		event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "text", "text": ""}})
		for _, word := range words(st.text) {
			event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": word}})
		}
		event("content_block_stop", map[string]any{"index": index})
		index++
	}
	for _, c := range st.calls {
		event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{
			"type": "tool_use", "id": c.ID, "name": c.Name, "input": map[string]any{},
		}})
		event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": ""}})
		for _, part := range pieces(c.Args, 3) {
			event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
		}
		event("content_block_stop", map[string]any{"index": index})
		index++
	}
	event("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": st.outputTokens()},
	})
	event("message_stop", map[string]any{})
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("request-id", "req_fake")
	writeJSON(w, status, map[string]any{
		"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_fake",
	})
}
