package ratelimit_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gathering/gathering/ratelimit"
)

// TestStores runs one contract against every Store implementation: they must decide identically.
func TestStores(t *testing.T) {
	stores := map[string]func(t *testing.T) ratelimit.Store{
		"Memory": func(t *testing.T) ratelimit.Store { return ratelimit.NewMemory(10_000) },
		"Redis": func(t *testing.T) ratelimit.Store {
			c := newRedisClient(t)
			return ratelimit.NewRedis(c, uniquePrefix(t, c))
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testStoreContract(t, newStore)
		})
	}
}

var five = ratelimit.Tier{Name: "five", Limit: 5, Window: time.Minute}

func take(t *testing.T, s ratelimit.Store, tier ratelimit.Tier, client string, now time.Time) ratelimit.Decision {
	t.Helper()
	d, err := s.Take(context.Background(), tier, client, now)
	if err != nil {
		t.Fatalf("Take(%s, %s, %s): %v", tier.Name, client, now.Format(time.RFC3339Nano), err)
	}
	return d
}

// exhaust takes the whole limit of tier for client at now.
func exhaust(t *testing.T, s ratelimit.Store, tier ratelimit.Tier, client string, now time.Time) {
	t.Helper()
	for i := range tier.Limit {
		if d := take(t, s, tier, client, now); !d.Allowed {
			t.Fatalf("take %d of %d refused: %+v", i+1, tier.Limit, d)
		}
	}
}

func testStoreContract(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	t.Run("limit reached after exactly N takes, remaining counts down", func(t *testing.T) {
		s := newStore(t)
		for i := range five.Limit {
			d := take(t, s, five, "c", base.Add(time.Duration(i)*time.Second))
			if !d.Allowed || d.Limit != 5 || d.Remaining != 5-1-i || d.RetryAfter != 0 {
				t.Fatalf("take %d: got %+v, want allowed with remaining %d", i+1, d, 5-1-i)
			}
			if !d.Reset.Equal(base.Add(time.Minute)) {
				t.Fatalf("take %d: reset %s, want the window end %s", i+1, d.Reset, base.Add(time.Minute))
			}
		}
		for i := range 3 { // refused takes are not counted, and keep being refused
			d := take(t, s, five, "c", base.Add(10*time.Second))
			if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Fatalf("take %d over the limit: got %+v, want refused", 6+i, d)
			}
		}
	})

	t.Run("a new window resets, sliding over the previous one", func(t *testing.T) {
		s := newStore(t)
		exhaust(t, s, five, "c", base)
		// Right after the boundary the previous window still weighs fully: no burst of 2N.
		if d := take(t, s, five, "c", base.Add(time.Minute)); d.Allowed {
			t.Fatalf("at the next window's start: got %+v, want refused", d)
		}
		// Half-way, the previous 5 weigh 2.5: 2 more fit (2.5+2 <= 5 < 2.5+3).
		mid := base.Add(90 * time.Second)
		for i := range 2 {
			if d := take(t, s, five, "c", mid); !d.Allowed {
				t.Fatalf("half-way take %d: got %+v, want allowed", i+1, d)
			}
		}
		if d := take(t, s, five, "c", mid); d.Allowed || d.Remaining != 0 {
			t.Fatalf("half-way take 3: got %+v, want refused", d)
		}
		// Two windows after the burst, nothing of it is left.
		fresh := newStore(t)
		exhaust(t, fresh, five, "c", base)
		d := take(t, fresh, five, "c", base.Add(2*time.Minute))
		if !d.Allowed || d.Remaining != 4 || !d.Reset.Equal(base.Add(3*time.Minute)) {
			t.Fatalf("two windows later: got %+v, want allowed with remaining 4", d)
		}
	})

	t.Run("remaining accounts for the previous window", func(t *testing.T) {
		s := newStore(t)
		for range 2 {
			take(t, s, five, "c", base)
		}
		// 45 s into the next window the previous 2 weigh 0.5, rounded up to 1.
		d := take(t, s, five, "c", base.Add(105*time.Second))
		if !d.Allowed || d.Remaining != 3 {
			t.Fatalf("got %+v, want allowed with remaining 3", d)
		}
	})

	t.Run("retry after is exact and reset is sensible", func(t *testing.T) {
		cases := []struct {
			name string
			tier ratelimit.Tier
			fill func(t *testing.T, s ratelimit.Store)
			at   time.Time
			want time.Duration
		}{{
			// Full in this window: admitted in the next window once 5*(w-e) <= 4*w, e = 12 s.
			name: "current window full",
			tier: five,
			fill: func(t *testing.T, s ratelimit.Store) { exhaust(t, s, five, "c", base.Add(20*time.Second)) },
			at:   base.Add(30 * time.Second),
			want: 30*time.Second + 12*time.Second,
		}, {
			// Blocked by the previous window: 5*(w-e) <= 4*w once e = 12 s into this window.
			name: "previous window weighs",
			tier: five,
			fill: func(t *testing.T, s ratelimit.Store) { exhaust(t, s, five, "c", base.Add(-time.Second)) },
			at:   base.Add(time.Second),
			want: 11 * time.Second,
		}, {
			// Limit 1, used in this window: only once the previous window has fully slid by.
			name: "limit 1",
			tier: one,
			fill: func(t *testing.T, s ratelimit.Store) { take(t, s, one, "c", base.Add(5*time.Second)) },
			at:   base.Add(10 * time.Second),
			want: 50*time.Second + time.Minute,
		}}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				tc.fill(t, s)
				tier := tc.tier
				d := take(t, s, tier, "c", tc.at)
				if d.Allowed || d.RetryAfter != tc.want {
					t.Fatalf("got %+v, want refused with retry after %s", d, tc.want)
				}
				if d.Reset.Before(tc.at.Add(d.RetryAfter)) || d.Reset.After(tc.at.Add(2*tier.Window)) {
					t.Fatalf("reset %s not in [now+RetryAfter, now+2 windows]", d.Reset)
				}
				if d := take(t, s, tier, "c", tc.at.Add(d.RetryAfter-time.Millisecond)); d.Allowed {
					t.Fatalf("1 ms before retry after: got %+v, want refused", d)
				}
				if d := take(t, s, tier, "c", tc.at.Add(d.RetryAfter)); !d.Allowed {
					t.Fatalf("at retry after: got %+v, want allowed", d)
				}
			})
		}
	})

	t.Run("tiers are independent", func(t *testing.T) {
		s := newStore(t)
		exhaust(t, s, ratelimit.Auth, "ip:192.0.2.1", base)
		if d := take(t, s, ratelimit.Auth, "ip:192.0.2.1", base); d.Allowed {
			t.Fatalf("auth after its limit: got %+v, want refused", d)
		}
		d := take(t, s, ratelimit.Read, "ip:192.0.2.1", base)
		if !d.Allowed || d.Limit != 120 || d.Remaining != 119 {
			t.Fatalf("read after exhausting auth: got %+v, want allowed with remaining 119", d)
		}
	})

	t.Run("clients are independent", func(t *testing.T) {
		s := newStore(t)
		exhaust(t, s, five, "user:a", base)
		if d := take(t, s, five, "user:a", base); d.Allowed {
			t.Fatalf("user:a after its limit: got %+v, want refused", d)
		}
		// IPv6 clients contain colons; they must not clash with anything.
		for _, c := range []string{"user:b", "ip:::1", "ip:2001:db8::1"} {
			if d := take(t, s, five, c, base); !d.Allowed || d.Remaining != 4 {
				t.Fatalf("%s: got %+v, want allowed with remaining 4", c, d)
			}
		}
	})

	t.Run("concurrent takes never exceed the limit", func(t *testing.T) {
		s := newStore(t)
		tier := ratelimit.Tier{Name: "thirty", Limit: 30, Window: time.Minute}
		var (
			mu        sync.Mutex
			remaining []int
			refused   int
			wg        sync.WaitGroup
		)
		for g := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 4 {
					d, err := s.Take(context.Background(), tier, "c", base.Add(time.Duration(g*4+i)*time.Millisecond))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if d.Allowed {
						remaining = append(remaining, d.Remaining)
					} else {
						refused++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(remaining) != 30 || refused != 170 {
			t.Fatalf("allowed %d and refused %d of 200, want 30 and 170", len(remaining), refused)
		}
		sort.Ints(remaining)
		for i, r := range remaining {
			if r != i {
				t.Fatalf("remaining values %v, want each of 0..29 once", remaining)
			}
		}
	})

	t.Run("invalid tiers are refused", func(t *testing.T) {
		s := newStore(t)
		for _, tier := range []ratelimit.Tier{{Name: "", Limit: 1, Window: time.Minute},
			{Name: "zero", Limit: 0, Window: time.Minute}, {Name: "nowindow", Limit: 1}} {
			if _, err := s.Take(context.Background(), tier, "c", base); err == nil {
				t.Errorf("tier %+v: no error", tier)
			}
		}
	})
}

var one = ratelimit.Tier{Name: "one", Limit: 1, Window: time.Minute}
