package pipeline

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/gathering/gathering/domain"
)

// Backoff computes the wait before a node's next attempt: exponential growth from Initial by
// Multiplier per failed attempt, capped at Max, with full jitter (a uniform draw between zero
// and that ceiling), so that many nodes failing together do not retry together.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	// Rand returns a number in [0, 1); nil means math/rand/v2's Float64. Tests inject their own.
	Rand func() float64
}

// NewBackoff returns the backoff of a node's retry policy (zero fields take the domain's
// defaults).
func NewBackoff(p domain.RetryPolicy, rnd func() float64) Backoff {
	if p.InitialBackoffMS == 0 {
		p.InitialBackoffMS = domain.DefaultRetryInitialBackoff
	}
	if p.MaxBackoffMS == 0 {
		p.MaxBackoffMS = max(domain.DefaultRetryMaxBackoff, p.InitialBackoffMS)
	}
	if p.Multiplier == 0 {
		p.Multiplier = domain.DefaultRetryMultiplier
	}
	return Backoff{
		Initial:    time.Duration(p.InitialBackoffMS) * time.Millisecond,
		Max:        time.Duration(p.MaxBackoffMS) * time.Millisecond,
		Multiplier: p.Multiplier,
		Rand:       rnd,
	}
}

// Ceiling is the longest wait after failed attempt number attempt (from 1):
// min(Max, Initial × Multiplier^(attempt-1)).
func (b Backoff) Ceiling(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	mult := b.Multiplier
	if !(mult >= 1) { // also NaN
		mult = 1
	}
	d := float64(b.Initial) * math.Pow(mult, float64(attempt-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		return max(b.Max, 0)
	}
	return max(time.Duration(d), 0)
}

// Delay is the jittered wait after failed attempt number attempt: uniform in [0, Ceiling].
func (b Backoff) Delay(attempt int) time.Duration {
	ceiling := b.Ceiling(attempt)
	rnd := b.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	f := rnd()
	if !(f >= 0) { // NaN or negative
		f = 0
	}
	// Scaled to ceiling+1 and floored, so the ceiling itself can be drawn.
	d := f * (float64(ceiling) + 1)
	if d >= float64(ceiling) {
		return ceiling
	}
	return time.Duration(d)
}
