package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultMaxRetries is how many times a failed call (429, 5xx, connection error) is retried
// when a config leaves MaxRetries at 0. A negative MaxRetries disables retries.
const defaultMaxRetries = 2

func retriesOf(n int) int {
	switch {
	case n == 0:
		return defaultMaxRetries
	case n < 0:
		return 0
	default:
		return n
	}
}

// missingKeyError is returned before any request is made when a provider has no API key.
func missingKeyError(provider, envVar string) *Error {
	return &Error{
		Provider: provider,
		Kind:     ErrMissingKey,
		Message:  fmt.Sprintf("no API key is configured; set %s", envVar),
	}
}

// kindForStatus classifies an HTTP status code.
func kindForStatus(status int) ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrAuth
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return ErrTimeout
	case status >= 500:
		return ErrUnavailable
	default:
		return ErrBadRequest
	}
}

// statusError builds the *Error for an HTTP error response. providerMsg is the provider's own
// explanation (shown for bad requests and outages, never for auth failures, whose messages may
// echo part of the key). key is scrubbed from the message in any case.
func statusError(provider string, status int, providerMsg string, retryAfter time.Duration, key string) *Error {
	kind := kindForStatus(status)
	providerMsg = strings.TrimSpace(providerMsg)
	var msg string
	switch kind {
	case ErrAuth:
		msg = fmt.Sprintf("the API key was refused (HTTP %d)", status)
	case ErrRateLimited:
		msg = "rate limited by the provider (HTTP 429), even after retrying"
	case ErrTimeout:
		msg = fmt.Sprintf("the provider timed out (HTTP %d)", status)
	case ErrUnavailable:
		msg = fmt.Sprintf("the provider is unavailable (HTTP %d)", status)
	default:
		msg = fmt.Sprintf("the provider rejected the request (HTTP %d)", status)
	}
	if providerMsg != "" && kind != ErrAuth {
		msg += ": " + providerMsg
	}
	return &Error{
		Provider:   provider,
		Kind:       kind,
		Status:     status,
		RetryAfter: retryAfter,
		Message:    redact(msg, key),
		Err:        fmt.Errorf("HTTP %d %s", status, http.StatusText(status)),
	}
}

// transportError maps a failure that has no HTTP response: deadline, cancellation, connection.
func transportError(provider string, err error, key string) *Error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &Error{Provider: provider, Kind: ErrTimeout, Message: "the request timed out", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Provider: provider, Kind: ErrTimeout, Message: "the request was canceled", Err: err}
	}
	return &Error{
		Provider: provider,
		Kind:     ErrUnavailable,
		Message:  redact("cannot reach the provider: "+err.Error(), key),
		Err:      errors.New(redact(err.Error(), key)),
	}
}

// badRequest is a request this package refuses to send (e.g. a tool schema that is not JSON).
func badRequest(provider, msg string) *Error {
	return &Error{Provider: provider, Kind: ErrBadRequest, Message: msg}
}

// redact removes key from s.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs > float64(24*time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// backoff is the wait before retry number attempt (0-based): 0.5 s doubling up to 8 s, minus up
// to a quarter of jitter so that clients that failed together do not retry together.
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond
	for i := 0; i < attempt && d < 8*time.Second; i++ {
		d *= 2
	}
	d = min(d, 8*time.Second)
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// normalizeArgs returns tool-call arguments as compact JSON: empty becomes {}, and text that is
// not JSON (a model can emit broken arguments) becomes a JSON string holding it, so a Response
// always marshals.
func normalizeArgs(raw []byte) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		quoted, _ := json.Marshal(string(raw))
		return quoted
	}
	return buf.Bytes()
}

// schemaObject parses a tool's JSON Schema; an empty schema means "no parameters".
func schemaObject(provider string, t ToolSpec) (map[string]any, error) {
	if len(bytes.TrimSpace(t.Parameters)) == 0 || string(bytes.TrimSpace(t.Parameters)) == "null" {
		return map[string]any{"type": "object", "properties": map[string]any{}}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(t.Parameters, &m); err != nil {
		return nil, badRequest(provider, fmt.Sprintf("tool %q: parameters are not a JSON Schema object: %v", t.Name, err))
	}
	if _, ok := m["type"]; !ok {
		m["type"] = "object"
	}
	return m, nil
}

// toolNameByCallID finds the name of the tool a tool message answers, from the assistant
// messages before it, for providers (Ollama) that pair results by name.
func toolNameByCallID(msgs []Message, upTo int, id string) string {
	for i := upTo - 1; i >= 0; i-- {
		for _, c := range msgs[i].ToolCalls {
			if c.ID == id {
				return c.Name
			}
		}
	}
	return ""
}
