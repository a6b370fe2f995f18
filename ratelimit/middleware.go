package ratelimit

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
)

// CodeRateLimited is the error code of a request refused by a limit (HTTP 429).
const CodeRateLimited domain.Code = "rate_limited"

// errorLogInterval is how often a failing store is logged, at most, per middleware: once Redis is
// down every request would otherwise add an identical line.
const errorLogInterval = 30 * time.Second

// Middleware applies tier to every request it sees. clientKey names the client ("user:<id>" when
// authenticated, "ip:<addr>" otherwise); when it is nil or returns "", the client is
// "ip:"+c.IP().
//
// Every response whose decision is known carries X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (Unix seconds, see Decision.Reset). A refused request gets 429, Retry-After in
// whole seconds (at least 1) and the API's JSON error shape with code "rate_limited"; the handlers
// after the middleware do not run.
//
// When the store fails (Redis down, a timeout), the tier decides, see Tier.FailsClosed:
//   - auth fails CLOSED: 503 with code "unavailable" and Retry-After. Brute force protection of
//     credentials must not disappear exactly when the limiter's backend does.
//   - read, write and health fail OPEN: the request goes on without rate-limit headers, because a
//     limiter outage must not become an API outage (health probes especially must keep working,
//     or a load balancer would take every instance out of rotation).
//
// Store errors are logged at most once per 30 s per middleware, with how many were suppressed.
// It panics if tier is invalid (a programming error).
func Middleware(store Store, tier Tier, clientKey func(*fiber.Ctx) string, log zerolog.Logger) fiber.Handler {
	if err := tier.validate(); err != nil {
		panic(err)
	}
	limitHeader := strconv.Itoa(tier.Limit)
	exceeded := fmt.Sprintf("rate limit exceeded: %d per %s", tier.Limit, per(tier.Window))
	errs := &throttledLog{log: log, every: errorLogInterval}
	return func(c *fiber.Ctx) error {
		client := ""
		if clientKey != nil {
			client = clientKey(c)
		}
		if client == "" {
			client = "ip:" + c.IP()
		}
		d, err := store.Take(c.UserContext(), tier, client, time.Now())
		if err != nil {
			errs.record(time.Now(), tier, err)
			if tier.FailsClosed() {
				c.Set(fiber.HeaderRetryAfter, "5")
				return writeError(c, fiber.StatusServiceUnavailable, domain.CodeUnavailable,
					"rate limiter unavailable, try again shortly")
			}
			return c.Next()
		}
		c.Set("X-RateLimit-Limit", limitHeader)
		c.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		c.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
		if !d.Allowed {
			retry := max((d.RetryAfter+time.Second-1)/time.Second, 1)
			c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(int64(retry), 10))
			return writeError(c, fiber.StatusTooManyRequests, CodeRateLimited, exceeded)
		}
		return c.Next()
	}
}

// per names a window for a message: "minute", "second", "hour", or the duration ("10s").
func per(w time.Duration) string {
	switch w {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	}
	return w.String()
}

func ceilSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// errorBody is the API's one JSON error shape (see httpapi/errors.go), repeated here because the
// middleware answers on its own.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      domain.Code         `json:"code"`
	Message   string              `json:"message"`
	Field     string              `json:"field,omitempty"`
	Fields    []domain.FieldError `json:"fields,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

func writeError(c *fiber.Ctx, status int, code domain.Code, message string) error {
	id, _ := c.Locals("request_id").(string)
	return c.Status(status).JSON(errorBody{Error: errorDetail{Code: code, Message: message, RequestID: id}})
}

// throttledLog logs store errors at most once per interval.
type throttledLog struct {
	log   zerolog.Logger
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *throttledLog) record(now time.Time, tier Tier, err error) {
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	policy := "failing open"
	if tier.FailsClosed() {
		policy = "failing closed"
	}
	l.log.Error().Err(err).Str("tier", tier.Name).Int("suppressed", suppressed).
		Msgf("rate limiter store failed, %s (logged at most once per %s)", policy, l.every)
}
