package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every server instance that uses the same Redis and prefix.
//
// Each (tier, client) has one counter per fixed window, under the key
// "<prefix>:<tier>:<client>:<window start in Unix ms>". One Lua script reads the previous and the
// current window's counters, applies the sliding-window comparison of the package doc and, only
// when the request is admitted, increments the current counter; the first increment sets the
// expiry (two windows plus a second of slack, long enough for the counter to serve as the
// "previous window" of the next one). Redis runs a script atomically, so concurrent Takes from
// any number of servers never admit more than the limit, and the expiry can never be missed.
//
// The instant of a Take is the caller's clock, not Redis's: keep the servers' clocks in sync
// (NTP); a skew of s shifts a server's windows by s.
//
// The two keys of one script are not hash-tagged, so this targets a single Redis (or a primary
// with replicas), not Redis Cluster. Give the client short timeouts (DialTimeout, ReadTimeout,
// WriteTimeout, or ContextTimeoutEnabled with a request deadline): every rate-limited request
// waits for Redis.
type Redis struct {
	client *redis.Client
	prefix string
}

// NewRedis returns a store on client whose keys all start with prefix (for example
// "gathering:ratelimit").
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// takeScript: KEYS[1] current window, KEYS[2] previous window; ARGV limit, window ms, ms elapsed
// in the current window, expiry ms. Returns {allowed (0/1), previous count, current count}.
var takeScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local e = tonumber(ARGV[3])
local curr = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if prev * (w - e) <= (limit - 1 - curr) * w then
  curr = redis.call('INCR', KEYS[1])
  if curr == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  return {1, prev, curr}
end
return {0, prev, curr}
`)

// Take implements Store.
func (r *Redis) Take(ctx context.Context, tier Tier, client string, now time.Time) (Decision, error) {
	if err := tier.validate(); err != nil {
		return Decision{}, err
	}
	x := locate(tier, now)
	keys := []string{r.key(tier, client, x.start()), r.key(tier, client, x.start()-x.w)}
	ttl := 2*x.w + int64(time.Second/time.Millisecond)
	res, err := takeScript.Run(ctx, r.client, keys, tier.Limit, x.w, x.elapsed, ttl).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("ratelimit: redis: unexpected script reply %v", res)
	}
	return decide(tier, x, res[1], res[2], res[0] == 1), nil
}

func (r *Redis) key(tier Tier, client string, windowStart int64) string {
	return r.prefix + ":" + tier.Name + ":" + client + ":" + strconv.FormatInt(windowStart, 10)
}
