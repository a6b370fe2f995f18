package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gathering/gathering/ratelimit"
)

// A flood of distinct clients cannot grow the memory store past its bound.
func TestMemoryBounded(t *testing.T) {
	m := ratelimit.NewMemory(1000)
	for i := range 100_000 {
		now := base.Add(time.Duration(i) * time.Millisecond) // spans two windows
		d, err := m.Take(context.Background(), ratelimit.Read, "ip:"+strconv.Itoa(i), now)
		if err != nil || !d.Allowed {
			t.Fatalf("client %d: %+v, %v", i, d, err)
		}
		if n := m.Len(); n > 1000 {
			t.Fatalf("after %d clients the store tracks %d keys, want at most 1000", i+1, n)
		}
	}
	if n := m.Len(); n != 1000 {
		t.Fatalf("tracks %d keys, want 1000 (all live)", n)
	}
	// Once every window has passed, each Take also sweeps expired keys away.
	later := base.Add(10 * time.Minute)
	for i := range 100 {
		take(t, m, ratelimit.Read, "late:"+strconv.Itoa(i), later)
	}
	if n := m.Len(); n > 1000-100 {
		t.Fatalf("after 100 takes with every old key expired it tracks %d keys, want at most 900", n)
	}
}

// At capacity, an expired key is evicted before a live one, even a more recently used one.
func TestMemoryEvictsExpiredBeforeLive(t *testing.T) {
	m := ratelimit.NewMemory(10)
	short := ratelimit.Tier{Name: "short", Limit: 5, Window: time.Second}
	for range 4 {
		take(t, m, five, "live", base) // oldest in LRU order, but its minute window is live
	}
	for i := range 9 {
		take(t, m, short, "x"+strconv.Itoa(i), base.Add(time.Millisecond))
	}
	// 3 s later the short keys have expired; new clients push the store over capacity.
	now := base.Add(3 * time.Second)
	for i := range 5 {
		take(t, m, five, "new"+strconv.Itoa(i), now)
	}
	if n := m.Len(); n > 10 {
		t.Fatalf("tracks %d keys, want at most 10", n)
	}
	if d := take(t, m, five, "live", now); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("live client: got %+v, want its 5th request allowed with remaining 0", d)
	}
	if d := take(t, m, five, "live", now); d.Allowed {
		t.Fatalf("live client: got %+v, want its 6th request refused (its count was kept)", d)
	}
}

// A Take with an instant before the key's current window (callers' clocks are not ordered) counts
// in the newest window instead of resetting it.
func TestMemoryClockGoingBackwards(t *testing.T) {
	m := ratelimit.NewMemory(10)
	exhaust(t, m, five, "c", base.Add(time.Minute))
	if d := take(t, m, five, "c", base.Add(59*time.Second)); d.Allowed {
		t.Fatalf("got %+v, want refused", d)
	}
}
