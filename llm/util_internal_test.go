package llm

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{"2.5", 2500 * time.Millisecond, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-3", 0, false},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		got, ok := parseRetryAfter(h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt, base := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		for range 20 {
			d := backoff(attempt)
			if d > base || d < base*3/4 {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, base*3/4, base)
			}
		}
	}
}

func TestWordChunks(t *testing.T) {
	for _, s := range []string{"", "one", "  lead and trail  ", "a\nb\tc  d", "[offline model] Hi."} {
		chunks := wordChunks(s)
		if strings.Join(chunks, "") != s {
			t.Errorf("%q: chunks %q do not join back", s, chunks)
		}
		if len(chunks) != len(strings.Fields(s)) && strings.TrimSpace(s) != "" {
			t.Errorf("%q: %d chunks for %d words", s, len(chunks), len(strings.Fields(s)))
		}
	}
}

func TestNormalizeArgs(t *testing.T) {
	for in, want := range map[string]string{
		"":              `{}`,
		` { "a" : 1 } `: `{"a":1}`,
		`{"a": "x y"}`:  `{"a":"x y"}`,
		`{"broken":`:    `"{\"broken\":"`,
	} {
		if got := string(normalizeArgs([]byte(in))); got != want {
			t.Errorf("normalizeArgs(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestStatusErrorRedactsKey(t *testing.T) {
	e := statusError("openai", 400, "bad key sk-secret-123 in body", 0, "sk-secret-123")
	if strings.Contains(e.Error(), "sk-secret-123") || e.Kind != ErrBadRequest || !strings.Contains(e.Message, "[redacted]") {
		t.Errorf("error = %v", e)
	}
	if e := statusError("openai", 401, "Incorrect API key provided: sk-se***123", 0, "k"); strings.Contains(e.Error(), "sk-se") || e.Kind != ErrAuth {
		t.Errorf("auth error = %v", e)
	}
	for status, kind := range map[int]ErrorKind{403: ErrAuth, 404: ErrBadRequest, 422: ErrBadRequest, 429: ErrRateLimited, 500: ErrUnavailable, 503: ErrUnavailable, 529: ErrUnavailable} {
		if got := kindForStatus(status); got != kind {
			t.Errorf("kindForStatus(%d) = %s, want %s", status, got, kind)
		}
	}
}
