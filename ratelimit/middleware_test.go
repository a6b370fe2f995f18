package ratelimit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/ratelimit"
)

// fixedClock makes a store see every Take at one instant, so headers are deterministic.
type fixedClock struct {
	ratelimit.Store
	now time.Time
}

func (f fixedClock) Take(ctx context.Context, tier ratelimit.Tier, client string, _ time.Time) (ratelimit.Decision, error) {
	return f.Store.Take(ctx, tier, client, f.now)
}

// failing is a store whose backend is down.
type failing struct{ calls atomic.Int64 }

func (f *failing) Take(context.Context, ratelimit.Tier, string, time.Time) (ratelimit.Decision, error) {
	f.calls.Add(1)
	return ratelimit.Decision{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

// newApp serves GET / behind the middleware; the client is the X-User header, else the IP, as the
// real server does.
func newApp(store ratelimit.Store, tier ratelimit.Tier, log zerolog.Logger) (*fiber.App, *atomic.Int64) {
	var handled atomic.Int64
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error {
		c.Locals("request_id", "req-"+c.Get("X-Request-ID"))
		return c.Next()
	})
	clientKey := func(c *fiber.Ctx) string {
		if u := c.Get("X-User"); u != "" {
			return "user:" + u
		}
		return "ip:" + c.IP()
	}
	app.Get("/", ratelimit.Middleware(store, tier, clientKey, log), func(c *fiber.Ctx) error {
		handled.Add(1)
		return c.SendString("ok")
	})
	return app, &handled
}

func get(t *testing.T, app *fiber.App, user, requestID string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	req.Header.Set("X-Request-ID", requestID)
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Field     string `json:"field"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return e
}

func TestMiddleware(t *testing.T) {
	stores := map[string]func(t *testing.T) ratelimit.Store{
		"Memory": func(t *testing.T) ratelimit.Store { return ratelimit.NewMemory(1000) },
		"Redis": func(t *testing.T) ratelimit.Store {
			c := newRedisClient(t)
			return ratelimit.NewRedis(c, uniquePrefix(t, c))
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			now := base.Add(15 * time.Second)
			tier := ratelimit.Tier{Name: "three", Limit: 3, Window: time.Minute}
			app, handled := newApp(fixedClock{newStore(t), now}, tier, zerolog.Nop())
			reset := strconv.FormatInt(base.Add(time.Minute).Unix(), 10)

			for i := range 3 {
				resp, body := get(t, app, "alice", "a")
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("request %d: %d %q, want 200", i+1, resp.StatusCode, body)
				}
				h := resp.Header
				if h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) ||
					h.Get("X-RateLimit-Reset") != reset || h.Get("Retry-After") != "" {
					t.Fatalf("request %d headers: %v", i+1, h)
				}
			}

			resp, body := get(t, app, "alice", "b")
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("4th request: %d %q, want 429", resp.StatusCode, body)
			}
			// Admitted again 20 s into the next window (3*(w-e) <= 2*w): 45 s + 20 s from now.
			h := resp.Header
			if h.Get("Retry-After") != "65" || h.Get("X-RateLimit-Limit") != "3" ||
				h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") == "" {
				t.Fatalf("429 headers: %v", h)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("429 content type %q", ct)
			}
			e := decodeError(t, body)
			if e.Error.Code != "rate_limited" || e.Error.Message != "rate limit exceeded: 3 per minute" ||
				e.Error.RequestID != "req-b" || e.Error.Field != "" {
				t.Fatalf("429 body: %s", body)
			}
			if handled.Load() != 3 {
				t.Fatalf("handler ran %d times, want 3 (not for the refused request)", handled.Load())
			}

			// Another user, and an anonymous client (by IP), have their own counters.
			for _, user := range []string{"bob", ""} {
				resp, _ := get(t, app, user, "c")
				if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Remaining") != "2" {
					t.Fatalf("client %q: %d %v, want 200 with remaining 2", user, resp.StatusCode, resp.Header)
				}
			}
		})
	}
}

func TestMiddlewareRetryAfterAtLeastOneSecond(t *testing.T) {
	// Limit 2: the previous window's 2 hits weigh 2*(w-e)/w; admitted once e >= w/2, 1 ms from now.
	tier := ratelimit.Tier{Name: "two", Limit: 2, Window: time.Minute}
	store := ratelimit.NewMemory(10)
	for range 2 {
		if _, err := store.Take(context.Background(), tier, "ip:0.0.0.0", base); err != nil {
			t.Fatal(err)
		}
	}
	app, _ := newApp(fixedClock{store, base.Add(90*time.Second - time.Millisecond)}, tier, zerolog.Nop())
	resp, body := get(t, app, "", "x")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("%d %v %s, want 429 with Retry-After 1", resp.StatusCode, resp.Header, body)
	}
}

func TestMiddlewareStoreFailure(t *testing.T) {
	t.Run("auth fails closed", func(t *testing.T) {
		var logs bytes.Buffer
		store := &failing{}
		app, handled := newApp(store, ratelimit.Auth, zerolog.New(&logs))
		for i := range 10 {
			resp, body := get(t, app, "", "f")
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("request %d: %d %s, want 503", i+1, resp.StatusCode, body)
			}
			if e := decodeError(t, body); e.Error.Code != "unavailable" || e.Error.RequestID != "req-f" {
				t.Fatalf("503 body: %s", body)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %v", resp.Header)
			}
		}
		if handled.Load() != 0 || store.calls.Load() != 10 {
			t.Fatalf("handler ran %d times with %d store calls, want 0 and 10", handled.Load(), store.calls.Load())
		}
		// The error is logged once, not once per request.
		if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "connection refused") ||
			!strings.Contains(logs.String(), "failing closed") {
			t.Fatalf("logged %d lines, want 1:\n%s", n, logs.String())
		}
	})

	for _, tier := range []ratelimit.Tier{ratelimit.Read, ratelimit.Health, ratelimit.Write} {
		t.Run(tier.Name+" fails open", func(t *testing.T) {
			var logs bytes.Buffer
			app, handled := newApp(&failing{}, tier, zerolog.New(&logs))
			for i := range 10 {
				resp, body := get(t, app, "alice", "o")
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("request %d: %d %s, want 200", i+1, resp.StatusCode, body)
				}
				if resp.Header.Get("X-RateLimit-Remaining") != "" {
					t.Fatalf("rate-limit headers without a decision: %v", resp.Header)
				}
			}
			if handled.Load() != 10 {
				t.Fatalf("handler ran %d times, want 10", handled.Load())
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "failing open") {
				t.Fatalf("logged %d lines, want 1:\n%s", n, logs.String())
			}
		})
	}
}

func TestMiddlewarePanicsOnInvalidTier(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	ratelimit.Middleware(ratelimit.NewMemory(1), ratelimit.Tier{Name: "bad"}, nil, zerolog.Nop())
}
