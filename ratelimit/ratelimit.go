// Package ratelimit limits how many requests one client may make per tier of endpoints.
//
// A client is the authenticated user ("user:<id>") or, for anonymous requests, the client IP
// ("ip:<addr>"); the caller decides through the clientKey function given to Middleware. Every
// (tier, client) pair has its own counters, so exhausting one tier (say auth) never starves
// another (say read).
//
// # Algorithm: sliding window, two fixed windows weighted
//
// Time is cut into fixed windows aligned to the Unix epoch (minute boundaries for the default
// tiers). Each (tier, client) keeps the count of the current window and of the one before it.
// A request at elapsed time e into the current window of length W is judged against the estimate
//
//	estimate = previous * (W - e) / W + current
//
// i.e. the previous window's count weighted by how much of it still overlaps the sliding window
// [now-W, now]. The request is admitted when estimate + 1 <= limit, and only admitted requests
// are counted: a client hammering while refused does not push its own recovery further away.
//
// Compared with a plain fixed window, this removes the "2x burst at the boundary" (limit hits at
// 0:59 and another limit at 1:00): right after a boundary the previous window still weighs
// almost fully. It is an approximation that assumes the previous window's hits were spread
// evenly; it never needs more than two counters per key, and both stores implement exactly the
// same integer arithmetic (milliseconds), so they give identical decisions.
//
// Decision.Reset is the end of the current fixed window, when the counters roll over; on a
// refusal it is pushed to at least now+RetryAfter, so a client that waits until Reset is
// admitted. RetryAfter is exact (to the millisecond) under the estimate: a request at
// now+RetryAfter is admitted if nobody else took from the same key in between.
//
// # Stores
//
// Memory keeps counters in process (one server, tests, or a fallback); Redis shares them between
// every instance of the server through an atomic Lua script.
//
// # Failure policy
//
// See Middleware: when the store fails, the auth tier fails closed (503) and every other tier
// fails open.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tier is one class of endpoints with its own limit per client.
type Tier struct {
	Name   string
	Limit  int           // requests admitted per Window (at least 1)
	Window time.Duration // at least one millisecond; whole milliseconds are used
}

// The tiers of the API. Their names are part of the Redis keys.
var (
	Auth   = Tier{"auth", 5, time.Minute}     // login, token refresh: brute force protection
	Write  = Tier{"write", 30, time.Minute}   // commands that change state
	Read   = Tier{"read", 120, time.Minute}   // queries, feeds
	Health = Tier{"health", 300, time.Minute} // probes
)

// FailsClosed reports whether requests of this tier are refused when the store is unavailable.
// Only the auth tier does: its limit is brute force protection, which must not disappear while
// Redis is down. The other tiers protect capacity, and turning a Redis outage into a full API
// outage would do more harm than a few minutes without limits.
func (t Tier) FailsClosed() bool { return t.Name == Auth.Name }

func (t Tier) validate() error {
	switch {
	case t.Name == "":
		return errors.New("ratelimit: tier has no name")
	case t.Limit < 1:
		return fmt.Errorf("ratelimit: tier %q: limit %d is below 1", t.Name, t.Limit)
	case t.Window < time.Millisecond:
		return fmt.Errorf("ratelimit: tier %q: window %s is below 1ms", t.Name, t.Window)
	}
	return nil
}

// Decision is the outcome of one Take.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int           // requests still admitted right now, after this one
	Reset      time.Time     // when the current window ends (see the package doc)
	RetryAfter time.Duration // zero when allowed; else how long until a request is admitted
}

// Store counts requests. Take records one request of client in tier at now, if the limit admits
// it, and tells the outcome. Implementations are safe for concurrent use.
type Store interface {
	Take(ctx context.Context, tier Tier, client string, now time.Time) (Decision, error)
}

// window locates now in the fixed windows of tier, in milliseconds since the Unix epoch.
type window struct {
	w       int64 // window length
	index   int64 // window number: start = index * w
	elapsed int64 // time since the window started, in [0, w)
}

func locate(tier Tier, now time.Time) window {
	w := tier.Window.Milliseconds()
	ms := now.UnixMilli()
	idx := ms / w
	if ms%w < 0 { // floor division for instants before 1970
		idx--
	}
	return window{w: w, index: idx, elapsed: ms - idx*w}
}

func (x window) start() int64 { return x.index * x.w }

// admits reports whether one more request fits: prev*(w-e)/w + curr + 1 <= limit, in integers.
// The Redis Lua script implements the same comparison.
func admits(limit, prev, curr int64, x window) bool {
	return prev*(x.w-x.elapsed) <= (limit-1-curr)*x.w
}

// decide turns the counts after a Take (curr includes this request when it was allowed) into a
// Decision. x locates the instant of the Take.
func decide(tier Tier, x window, prev, curr int64, allowed bool) Decision {
	limit := int64(tier.Limit)
	w, e := x.w, x.elapsed
	// ceil of the weighted estimate; what is left of the limit is what may still come.
	estimate := (prev*(w-e)+w-1)/w + curr
	remaining := max(limit-estimate, 0)
	end := x.start() + w
	d := Decision{Allowed: allowed, Limit: tier.Limit, Remaining: int(remaining), Reset: time.UnixMilli(end)}
	if allowed {
		return d
	}
	var at int64 // the first instant (ms since epoch) at which a request is admitted
	if curr >= limit {
		// Not in this window. In the next one, prev' = curr and curr' = 0: admitted once
		// curr*(w-e') <= (limit-1)*w.
		at = end + w - (limit-1)*w/curr
	} else {
		// Later in this window, once the previous window weighs little enough:
		// prev*(w-e') <= (limit-1-curr)*w. prev > 0 here, or the request would have been admitted.
		at = x.start() + w - (limit-1-curr)*w/prev
	}
	now := x.start() + e
	d.RetryAfter = time.Duration(at-now) * time.Millisecond
	if at > end {
		d.Reset = time.UnixMilli(at)
	}
	return d
}
