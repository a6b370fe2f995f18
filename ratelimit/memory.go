package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store for a single server (or tests). It tracks at most maxKeys
// (tier, client) pairs, so a flood of distinct clients (spoofed or rotating IPs) cannot grow it
// without bound.
//
// Eviction is LRU-ish: keys sit in a list ordered by last use. Every Take drops a few keys from
// the least recently used end whose windows have expired (they hold no information any more).
// When a new key arrives at capacity, the first expired key among the least recently used ones is
// dropped; if none has expired, the least recently used key is dropped although it is live, which
// forgives that client its count. That only happens when more than maxKeys clients are active
// within two windows, so size maxKeys well above the expected number of active clients times the
// number of tiers (each entry is about 100 bytes plus the client string).
type Memory struct {
	maxKeys int

	mu      sync.Mutex
	entries map[memKey]*list.Element // of *memEntry
	lru     list.List                // front: most recently used
}

type memKey struct {
	tier   string
	window int64 // ms; a tier of the same name with another window counts apart
	client string
}

type memEntry struct {
	key        memKey
	index      int64 // number of the current window
	prev, curr int64
}

// How many expired keys one Take removes at most from the LRU end, and how far a Take at capacity
// looks for an expired key before evicting a live one.
const (
	sweepPerTake = 2
	evictScan    = 16
)

// NewMemory returns an empty in-memory store bounded to maxKeys keys (at least 1).
func NewMemory(maxKeys int) *Memory {
	maxKeys = max(maxKeys, 1)
	return &Memory{maxKeys: maxKeys, entries: make(map[memKey]*list.Element, min(maxKeys, 1024))}
}

// Len is the number of (tier, client) keys currently tracked.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, tier Tier, client string, now time.Time) (Decision, error) {
	if err := tier.validate(); err != nil {
		return Decision{}, err
	}
	x := locate(tier, now)
	key := memKey{tier: tier.Name, window: x.w, client: client}

	m.mu.Lock()
	var e *memEntry
	if el, ok := m.entries[key]; ok {
		m.lru.MoveToFront(el)
		e = el.Value.(*memEntry)
		switch {
		case x.index == e.index:
		case x.index == e.index+1:
			e.prev, e.curr, e.index = e.curr, 0, x.index
		case x.index > e.index+1:
			e.prev, e.curr, e.index = 0, 0, x.index
		default:
			// now is before this key's window (clocks of concurrent callers are not ordered):
			// count it at the start of the newest window rather than forget what is there.
			x = window{w: x.w, index: e.index}
		}
	} else {
		if len(m.entries) >= m.maxKeys {
			m.evictOne(x)
		}
		e = &memEntry{key: key, index: x.index}
		m.entries[key] = m.lru.PushFront(e)
	}
	allowed := admits(int64(tier.Limit), e.prev, e.curr, x)
	if allowed {
		e.curr++
	}
	prev, curr := e.prev, e.curr
	m.sweep(now)
	m.mu.Unlock()

	return decide(tier, x, prev, curr, allowed), nil
}

// expired reports whether e's windows both lie before now: it can no longer affect a decision.
func (e *memEntry) expired(nowMs int64) bool {
	return (e.index+2)*e.key.window <= nowMs
}

// sweep removes up to sweepPerTake expired keys from the least recently used end.
func (m *Memory) sweep(now time.Time) {
	ms := now.UnixMilli()
	for range sweepPerTake {
		el := m.lru.Back()
		if el == nil || !el.Value.(*memEntry).expired(ms) {
			return
		}
		m.remove(el)
	}
}

// evictOne makes room for one key: the first expired key among the evictScan least recently
// used, else the least recently used.
func (m *Memory) evictOne(x window) {
	ms := x.start() + x.elapsed
	el := m.lru.Back()
	for i := 0; el != nil && i < evictScan; i++ {
		if el.Value.(*memEntry).expired(ms) {
			m.remove(el)
			return
		}
		el = el.Prev()
	}
	if back := m.lru.Back(); back != nil {
		m.remove(back)
	}
}

func (m *Memory) remove(el *list.Element) {
	delete(m.entries, el.Value.(*memEntry).key)
	m.lru.Remove(el)
}
