package ratelimit_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gathering/gathering/ratelimit"
)

// Two Redis stores with their own connections stand for two servers: together they admit exactly
// the limit, however their requests interleave.
func TestRedisSharedAcrossInstances(t *testing.T) {
	a, b := newRedisClient(t), newRedisClient(t)
	prefix := uniquePrefix(t, a)
	servers := []ratelimit.Store{ratelimit.NewRedis(a, prefix), ratelimit.NewRedis(b, prefix)}
	tier := ratelimit.Tier{Name: "shared", Limit: 30, Window: time.Minute}

	var allowed, perServer [2]atomic.Int64
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := g % 2
			for range 3 {
				d, err := servers[srv].Take(context.Background(), tier, "user:42", base)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed[0].Add(1)
					perServer[srv].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := allowed[0].Load(); got != 30 {
		t.Fatalf("two servers together allowed %d, want exactly 30", got)
	}
	if perServer[0].Load() == 0 || perServer[1].Load() == 0 {
		t.Logf("note: one server took every slot (%d/%d)", perServer[0].Load(), perServer[1].Load())
	}
	// Both now see the same exhausted counter, and the same fresh one for another client.
	for i, s := range servers {
		d, err := s.Take(context.Background(), tier, "user:42", base.Add(time.Second))
		if err != nil || d.Allowed || d.Remaining != 0 {
			t.Fatalf("server %d after the limit: %+v, %v; want refused", i, d, err)
		}
	}
	d1, _ := servers[0].Take(context.Background(), tier, "user:7", base)
	d2, _ := servers[1].Take(context.Background(), tier, "user:7", base)
	if !d1.Allowed || !d2.Allowed || d1.Remaining != 29 || d2.Remaining != 28 {
		t.Fatalf("another client across servers: %+v then %+v, want remaining 29 then 28", d1, d2)
	}
}

// The first increment of a window's counter sets its expiry: two windows plus slack.
func TestRedisKeysExpire(t *testing.T) {
	c := newRedisClient(t)
	prefix := uniquePrefix(t, c)
	s := ratelimit.NewRedis(c, prefix)
	now := time.Now()
	for range 3 {
		if _, err := s.Take(context.Background(), ratelimit.Auth, "ip:198.51.100.7", now); err != nil {
			t.Fatal(err)
		}
	}
	start := now.UnixMilli() / 60_000 * 60_000
	key := prefix + ":auth:ip:198.51.100.7:" + strconv.FormatInt(start, 10)
	n, err := c.Get(context.Background(), key).Int()
	if err != nil || n != 3 {
		t.Fatalf("key %s: %d, %v; want 3", key, n, err)
	}
	ttl, err := c.PTTL(context.Background(), key).Result()
	if err != nil || ttl <= time.Minute || ttl > 2*time.Minute+time.Second {
		t.Fatalf("key %s expires in %s (%v), want within (1m, 2m1s]", key, ttl, err)
	}
}
