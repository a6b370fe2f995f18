package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := NewBackoff(domain.RetryPolicy{InitialBackoffMS: 100, MaxBackoffMS: 1000, Multiplier: 2}, nil)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Ceiling(i + 1); got != w*time.Millisecond {
			t.Errorf("ceiling after attempt %d: %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	if b.Ceiling(0) != 100*time.Millisecond || b.Ceiling(100000) != time.Second {
		t.Fatalf("edges: %s %s", b.Ceiling(0), b.Ceiling(100000))
	}
	flat := NewBackoff(domain.RetryPolicy{InitialBackoffMS: 250, MaxBackoffMS: 1000, Multiplier: 1}, nil)
	if flat.Ceiling(7) != 250*time.Millisecond {
		t.Fatalf("multiplier 1: %s", flat.Ceiling(7))
	}
	def := NewBackoff(domain.RetryPolicy{}, nil)
	if def.Initial != time.Second || def.Max != time.Minute || def.Multiplier != 2 {
		t.Fatalf("defaults: %+v", def)
	}
}

func TestBackoffFullJitterStaysWithinBounds(t *testing.T) {
	fixed := func(f float64) func() float64 { return func() float64 { return f } }
	policy := domain.RetryPolicy{InitialBackoffMS: 100, MaxBackoffMS: 1000, Multiplier: 3}
	if d := NewBackoff(policy, fixed(0)).Delay(3); d != 0 {
		t.Fatalf("lowest draw: %s", d)
	}
	if d := NewBackoff(policy, fixed(0.5)).Delay(2); d != 150*time.Millisecond {
		t.Fatalf("half of 300ms: %s", d)
	}
	if d := NewBackoff(policy, fixed(0.9999999999)).Delay(5); d != time.Second {
		t.Fatalf("highest draw is the cap: %s", d)
	}
	if d := NewBackoff(policy, fixed(7)).Delay(1); d != 100*time.Millisecond {
		t.Fatalf("a draw out of range is clamped: %s", d)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	b := NewBackoff(policy, rng.Float64)
	for attempt := 1; attempt <= 6; attempt++ {
		ceiling := b.Ceiling(attempt)
		var lo, hi time.Duration = ceiling, 0
		for range 2000 {
			d := b.Delay(attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %s outside [0, %s]", attempt, d, ceiling)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range.
		if lo > ceiling/10 || hi < ceiling*9/10 {
			t.Errorf("attempt %d: draws in [%s, %s] of [0, %s]", attempt, lo, hi, ceiling)
		}
	}
}

type selfClassified struct{ retry bool }

func (e selfClassified) Error() string   { return "self" }
func (e selfClassified) Retryable() bool { return e.retry }

func TestRetryableClassifiesErrors(t *testing.T) {
	plain := errors.New("boom")
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{plain, false},
		{Retry(plain), true},
		{Permanent(Retry(plain)), false},
		{fmt.Errorf("calling: %w", Retry(plain)), true},
		{selfClassified{true}, true},
		{fmt.Errorf("wrapped: %w", selfClassified{false}), false},
		{&llm.Error{Kind: llm.ErrRateLimited}, true},
		{&llm.Error{Kind: llm.ErrUnavailable}, true},
		{fmt.Errorf("agent: %w", &llm.Error{Kind: llm.ErrTimeout}), true},
		{&llm.Error{Kind: llm.ErrAuth}, false},
		{&llm.Error{Kind: llm.ErrBadRequest}, false},
		{&llm.Error{Kind: llm.ErrMissingKey}, false},
		{domain.Errorf(domain.CodeUnavailable, "db down"), true},
		{domain.Errorf(domain.CodeTimeout, "slow"), true},
		{domain.Errorf(domain.CodeInvalid, "bad"), false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("attempt: %w", context.DeadlineExceeded), true},
		{context.Canceled, false},
		{&OpenError{State: BreakerOpen}, true},
	}
	for _, c := range cases {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if Retry(nil) != nil || Permanent(nil) != nil {
		t.Fatal("nil stays nil")
	}
	if !errors.Is(Retry(plain), plain) || Retry(plain).Error() != "boom" {
		t.Fatal("Retry wraps")
	}
}
