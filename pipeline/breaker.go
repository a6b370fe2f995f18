package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gathering/gathering/domain"
)

// BreakerState is where a circuit breaker stands.
type BreakerState string

const (
	// BreakerClosed lets every call through and counts consecutive failures.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen refuses every call until the recovery time has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets one trial call through; its outcome closes or reopens the breaker.
	BreakerHalfOpen BreakerState = "half_open"
)

// Breaker is a circuit breaker for what one node calls. It is closed at first; after
// FailureThreshold consecutive failures it opens and refuses calls for RecoverySec; then it is
// half-open and lets exactly one trial call through: a success closes it, a failure opens it
// again for another RecoverySec. A trial whose outcome never comes (its worker died) is given up
// after RecoverySec and another trial is let through. Outcomes of calls let through before the
// breaker last changed state are ignored, so a slow call from before an opening cannot close
// it. Safe for concurrent use.
type Breaker struct {
	threshold int
	recovery  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	state    BreakerState
	failures int       // consecutive, while closed
	openedAt time.Time // while open
	trialAt  time.Time // while half-open: when the trial in flight was let through; zero if none
	gen      uint64    // bumped on every change of state, and when a stale trial is replaced
}

// NewBreaker returns a closed breaker with policy p (zero fields take the domain's defaults)
// reading the time from now (nil means time.Now).
func NewBreaker(p domain.BreakerPolicy, now func() time.Time) *Breaker {
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = domain.DefaultBreakerFailureThreshold
	}
	if p.RecoverySec <= 0 {
		p.RecoverySec = domain.DefaultBreakerRecoverySec
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{threshold: p.FailureThreshold, recovery: time.Duration(p.RecoverySec) * time.Second, now: now, state: BreakerClosed}
}

// OpenError is a call the breaker refused. It is retryable: RetryAfter says when a trial may
// be let through.
type OpenError struct {
	State      BreakerState
	RetryAfter time.Duration
}

func (e *OpenError) Error() string {
	if e.State == BreakerHalfOpen {
		return fmt.Sprintf("circuit breaker is half-open and its trial call is in flight; try again in %s", e.RetryAfter.Round(time.Millisecond))
	}
	return fmt.Sprintf("circuit breaker is open after repeated failures; next trial in %s", e.RetryAfter.Round(time.Millisecond))
}

// Retryable marks the refusal as worth another attempt later.
func (e *OpenError) Retryable() bool { return true }

// Permit is one call let through. Report its outcome once with Done (or Success / Failure).
type Permit struct {
	b     *Breaker
	gen   uint64
	trial bool

	once sync.Once
}

// Trial reports whether the call is the half-open breaker's single trial.
func (p *Permit) Trial() bool { return p.trial }

// Allow asks to make a call. It returns a permit, or an *OpenError when the breaker refuses.
func (b *Breaker) Allow() (*Permit, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tick(now)
	switch b.state {
	case BreakerClosed:
		return &Permit{b: b, gen: b.gen}, nil
	case BreakerOpen:
		return nil, &OpenError{State: BreakerOpen, RetryAfter: b.openedAt.Add(b.recovery).Sub(now)}
	}
	if !b.trialAt.IsZero() {
		if wait := b.trialAt.Add(b.recovery).Sub(now); wait > 0 {
			return nil, &OpenError{State: BreakerHalfOpen, RetryAfter: wait}
		}
		b.gen++ // the trial in flight is given up; its outcome will be ignored
	}
	b.trialAt = now
	return &Permit{b: b, gen: b.gen, trial: true}, nil
}

// tick moves an open breaker whose recovery time has passed to half-open.
func (b *Breaker) tick(now time.Time) {
	if b.state == BreakerOpen && !now.Before(b.openedAt.Add(b.recovery)) {
		b.state, b.trialAt = BreakerHalfOpen, time.Time{}
		b.gen++
	}
}

// State returns where the breaker stands now.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(b.now())
	return b.state
}

// Failures returns the consecutive failures counted while closed.
func (b *Breaker) Failures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}

func (b *Breaker) open(now time.Time) {
	b.state, b.openedAt, b.failures, b.trialAt = BreakerOpen, now, 0, time.Time{}
	b.gen++
}

func (b *Breaker) close() {
	b.state, b.failures, b.trialAt = BreakerClosed, 0, time.Time{}
	b.gen++
}

// Success reports that the call succeeded.
func (p *Permit) Success() { p.report(outcomeSuccess) }

// Failure reports that the call failed in a way that counts against what it called.
func (p *Permit) Failure() { p.report(outcomeFailure) }

// Done reports the call's outcome by its error: nil is a success; a cancellation says nothing
// about what was called (a trial is released for another); a retryable error (see Retryable:
// rate limits, unavailability, timeouts) is a failure; any other error is a success for the
// breaker, since what was called did answer — the breaker tracks the health of a dependency,
// not the correctness of the node's request.
func (p *Permit) Done(err error) {
	switch {
	case err == nil:
		p.report(outcomeSuccess)
	case errors.Is(err, context.Canceled):
		p.report(outcomeNeutral)
	case Retryable(err):
		p.report(outcomeFailure)
	default:
		p.report(outcomeSuccess)
	}
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeNeutral
)

func (p *Permit) report(o outcome) {
	p.once.Do(func() {
		b := p.b
		b.mu.Lock()
		defer b.mu.Unlock()
		if p.gen != b.gen {
			return // let through before the breaker last changed; no longer relevant
		}
		now := b.now()
		switch {
		case b.state == BreakerClosed && o == outcomeSuccess:
			b.failures = 0
		case b.state == BreakerClosed && o == outcomeFailure:
			b.failures++
			if b.failures >= b.threshold {
				b.open(now)
			}
		case b.state == BreakerHalfOpen && p.trial && o == outcomeSuccess:
			b.close()
		case b.state == BreakerHalfOpen && p.trial && o == outcomeFailure:
			b.open(now)
		case b.state == BreakerHalfOpen && p.trial:
			b.trialAt = time.Time{}
		}
	})
}

// Breakers keeps one breaker per key (say, pipeline id and node id), created on first use.
// Safe for concurrent use.
type Breakers struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]breakerEntry
}

type breakerEntry struct {
	policy domain.BreakerPolicy
	b      *Breaker
}

// NewBreakers returns an empty set reading the time from now (nil means time.Now).
func NewBreakers(now func() time.Time) *Breakers {
	return &Breakers{now: now, m: map[string]breakerEntry{}}
}

// Get returns key's breaker, creating it with policy p. A policy different from the one the
// breaker was made with (a new version of the pipeline) starts a fresh breaker.
func (s *Breakers) Get(key string, p domain.BreakerPolicy) *Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.policy == p {
		return e.b
	}
	b := NewBreaker(p, s.now)
	s.m[key] = breakerEntry{policy: p, b: b}
	return b
}
