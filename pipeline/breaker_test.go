package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func allow(t *testing.T, b *Breaker) *Permit {
	t.Helper()
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("refused in state %s: %v", b.State(), err)
	}
	return p
}

func refused(t *testing.T, b *Breaker) *OpenError {
	t.Helper()
	p, err := b.Allow()
	var oe *OpenError
	if p != nil || !errors.As(err, &oe) {
		t.Fatalf("let through in state %s (err %v)", b.State(), err)
	}
	return oe
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(domain.BreakerPolicy{FailureThreshold: 3, RecoverySec: 10}, clock.Now)
	if b.State() != BreakerClosed {
		t.Fatal(b.State())
	}
	// Failures must be consecutive: a success resets the count.
	allow(t, b).Failure()
	allow(t, b).Failure()
	allow(t, b).Success()
	if b.Failures() != 0 || b.State() != BreakerClosed {
		t.Fatalf("after a success: %d failures, %s", b.Failures(), b.State())
	}
	allow(t, b).Failure()
	allow(t, b).Failure()
	if b.State() != BreakerClosed {
		t.Fatal("opened too early")
	}
	allow(t, b).Failure()
	if b.State() != BreakerOpen {
		t.Fatalf("after 3 failures: %s", b.State())
	}

	oe := refused(t, b)
	if oe.Error() != "circuit breaker is open after repeated failures; next trial in 10s" {
		t.Fatalf("message: %q", oe.Error())
	}
	if oe.State != BreakerOpen || oe.RetryAfter != 10*time.Second || !Retryable(oe) {
		t.Fatalf("refusal: %+v", oe)
	}
	clock.Advance(4 * time.Second)
	if oe := refused(t, b); oe.RetryAfter != 6*time.Second {
		t.Fatalf("retry after %s", oe.RetryAfter)
	}

	clock.Advance(6 * time.Second)
	if b.State() != BreakerHalfOpen {
		t.Fatalf("after the recovery time: %s", b.State())
	}
	trial := allow(t, b)
	if !trial.Trial() {
		t.Fatal("the first call when half-open is the trial")
	}
	// Only one trial at a time.
	if oe := refused(t, b); oe.State != BreakerHalfOpen || oe.RetryAfter != 10*time.Second || !strings.Contains(oe.Error(), "half-open") {
		t.Fatalf("second call during the trial: %+v", oe)
	}
	trial.Success()
	if b.State() != BreakerClosed || b.Failures() != 0 {
		t.Fatalf("after a successful trial: %s", b.State())
	}
	if p := allow(t, b); p.Trial() {
		t.Fatal("a closed breaker's calls are not trials")
	}
}

func TestBreakerFailedTrialOpensAgain(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(domain.BreakerPolicy{FailureThreshold: 1, RecoverySec: 5}, clock.Now)
	allow(t, b).Failure()
	if b.State() != BreakerOpen {
		t.Fatal(b.State())
	}
	clock.Advance(5 * time.Second)
	allow(t, b).Failure()
	if b.State() != BreakerOpen {
		t.Fatalf("after a failed trial: %s", b.State())
	}
	// The recovery time counts again from the failed trial.
	clock.Advance(4 * time.Second)
	if oe := refused(t, b); oe.RetryAfter != time.Second {
		t.Fatalf("retry after %s", oe.RetryAfter)
	}
	clock.Advance(time.Second)
	allow(t, b).Success()
	if b.State() != BreakerClosed {
		t.Fatal(b.State())
	}
}

func TestBreakerIgnoresOutcomesFromBeforeAChange(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(domain.BreakerPolicy{FailureThreshold: 2, RecoverySec: 5}, clock.Now)
	slow := allow(t, b) // let through while closed, answers late
	allow(t, b).Failure()
	allow(t, b).Failure()
	if b.State() != BreakerOpen {
		t.Fatal(b.State())
	}
	slow.Success()
	if b.State() != BreakerOpen {
		t.Fatal("a call from before the opening closed the breaker")
	}

	// A trial whose outcome never comes is given up after the recovery time.
	clock.Advance(5 * time.Second)
	lost := allow(t, b)
	clock.Advance(4 * time.Second)
	refused(t, b)
	clock.Advance(time.Second)
	next := allow(t, b)
	if !next.Trial() {
		t.Fatal("the replacement is a trial")
	}
	lost.Success() // too late: ignored
	if b.State() != BreakerHalfOpen {
		t.Fatalf("the lost trial decided: %s", b.State())
	}
	next.Failure()
	next.Success() // reported twice: only the first counts
	if b.State() != BreakerOpen {
		t.Fatalf("after the replacement failed: %s", b.State())
	}
}

func TestBreakerDoneClassifiesErrors(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(domain.BreakerPolicy{FailureThreshold: 2, RecoverySec: 1}, clock.Now)
	allow(t, b).Done(Retry(errors.New("503")))
	allow(t, b).Done(Permanent(errors.New("400: bad prompt"))) // it answered: a success
	if b.Failures() != 0 {
		t.Fatalf("a non-retryable error counted: %d", b.Failures())
	}
	allow(t, b).Done(context.DeadlineExceeded)
	allow(t, b).Done(context.Canceled) // says nothing
	if b.Failures() != 1 {
		t.Fatalf("failures %d", b.Failures())
	}
	allow(t, b).Done(Retry(errors.New("503")))
	if b.State() != BreakerOpen {
		t.Fatal(b.State())
	}
	clock.Advance(time.Second)
	allow(t, b).Done(context.Canceled) // a cancelled trial releases the slot without a verdict
	if b.State() != BreakerHalfOpen {
		t.Fatal(b.State())
	}
	allow(t, b).Done(nil)
	if b.State() != BreakerClosed {
		t.Fatal(b.State())
	}
}

func TestBreakerIsSafeForConcurrentUse(t *testing.T) {
	clock := newFakeClock()
	b := NewBreaker(domain.BreakerPolicy{FailureThreshold: 3, RecoverySec: 1}, clock.Now)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 200 {
				if p, err := b.Allow(); err == nil {
					if (i+j)%3 == 0 {
						p.Failure()
					} else {
						p.Success()
					}
				}
				if j%50 == 0 {
					clock.Advance(time.Second)
				}
				_ = b.State()
			}
		})
	}
	wg.Wait()
}

func TestBreakersKeepOnePerKeyAndPolicy(t *testing.T) {
	set := NewBreakers(nil)
	p := domain.BreakerPolicy{FailureThreshold: 1, RecoverySec: 60}
	a := set.Get("p1/a", p)
	if set.Get("p1/a", p) != a || set.Get("p1/b", p) == a {
		t.Fatal("one breaker per key")
	}
	allow(t, a).Failure()
	if a.State() != BreakerOpen {
		t.Fatal(a.State())
	}
	fresh := set.Get("p1/a", domain.BreakerPolicy{FailureThreshold: 2, RecoverySec: 60})
	if fresh == a || fresh.State() != BreakerClosed {
		t.Fatal("a new policy starts a fresh breaker")
	}
	if d := NewBreaker(domain.BreakerPolicy{}, nil); d.threshold != domain.DefaultBreakerFailureThreshold || d.recovery != time.Minute {
		t.Fatalf("defaults: %d %s", d.threshold, d.recovery)
	}
}
