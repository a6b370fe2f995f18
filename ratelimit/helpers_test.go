package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisURL is the Redis the tests use: TEST_REDIS_URL, or the local one that
// scripts/ensure-redis.sh makes sure of. Nothing is mocked.
func redisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// newRedisClient connects to the test Redis, failing the test if it does not answer.
func newRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("cannot reach Redis at %s (run scripts/ensure-redis.sh): %v", redisURL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniquePrefix is a key prefix of its own for one test; its keys are deleted when the test ends.
func uniquePrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "test:ratelimit:" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = c.Del(ctx, iter.Val()).Err()
		}
	})
	return prefix
}

// base is the start of a minute (1700000040 = 28333334 * 60), so tests know where windows start.
var base = time.Unix(1_700_000_040, 0)
