package livefeed

import (
	"sync"

	"github.com/gathering/gathering/eventlog"
)

// Reasons a subscription ends, as Reason reports them.
const (
	ReasonSlowConsumer = "slow_consumer"
	ReasonShutdown     = "shutdown"
	ReasonClosed       = "closed"
)

// Subscription is one client's view of the feed. C is never closed, because the hub's sends
// must not race a close; a reader selects on Done as well.
type Subscription struct {
	hub  *Hub
	ch   chan Message
	done chan struct{}

	mu     sync.Mutex
	topics topicSet
	// catchingUp is true while a resuming subscription replays the log. The hub then parks live
	// events in pending instead of the channel, so the channel only ever carries global order.
	catchingUp bool
	pending    []entry
	maxPending int
	// last is the newest cursor the subscription has accounted for (sent, or read during
	// catch-up and filtered out); anything not after it is a duplicate.
	last   eventlog.Cursor
	ended  bool
	reason string
}

// C delivers messages in global order. The messages share their Data and Topics slices with
// every other subscription and must not be modified.
func (s *Subscription) C() <-chan Message { return s.ch }

// Done is closed when the subscription ends; Reason then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason is ReasonSlowConsumer, ReasonShutdown or ReasonClosed once Done is closed, "" before.
func (s *Subscription) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Close ends the subscription; events already in C stay readable.
func (s *Subscription) Close() {
	if s.end(ReasonClosed) {
		s.hub.remove(s)
	}
}

// SetTopics replaces the topics of a live subscription. It applies to events the hub hands out
// from now on; a replay already read keeps the topics it was read with.
func (s *Subscription) SetTopics(topics []string) {
	set := newTopicSet(topics)
	s.mu.Lock()
	s.topics = set
	s.mu.Unlock()
}

func (s *Subscription) topicSnapshot() topicSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topics
}

func (s *Subscription) end(reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endLocked(reason)
}

func (s *Subscription) endLocked(reason string) bool {
	if s.ended {
		return false
	}
	s.ended, s.reason, s.pending = true, reason, nil
	close(s.done)
	return true
}

// offer is the hub's only way into a subscription. It never blocks: a full channel or an
// overflowing catch-up buffer ends the subscription instead, and offer reports that it did.
func (s *Subscription) offer(e entry) (dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.topics.matches(e.msg.Topics) {
		return false
	}
	if e.ephemeral {
		// Transient messages (streamed tokens) are not in the log: a client catching up or
		// momentarily full simply misses them; the recorded reply follows as an event.
		if !s.catchingUp {
			select {
			case s.ch <- e.msg:
			default:
			}
		}
		return false
	}
	if s.catchingUp {
		if len(s.pending) >= s.maxPending {
			return s.endLocked(ReasonSlowConsumer)
		}
		s.pending = append(s.pending, e)
		return false
	}
	if !s.last.Less(e.cur) {
		return false
	}
	select {
	case s.ch <- e.msg:
		s.last = e.cur
		return false
	default:
		return s.endLocked(ReasonSlowConsumer)
	}
}

// drain delivers a replay, then the live events parked meanwhile, with blocking sends: the
// client reads at its own pace while the hub keeps parking. It hands over to the hub only when
// nothing is parked, under the lock the hub offers under, so no event is sent twice or
// overtaken.
func (s *Subscription) drain(replay []Message, last eventlog.Cursor) {
	for _, m := range replay {
		if !s.send(m) {
			return
		}
	}
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return
		}
		parked := s.pending
		s.pending = nil
		if len(parked) == 0 {
			s.catchingUp, s.last = false, last
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, e := range parked {
			// The replay may have read past where the hub was when the subscription registered;
			// those events come round again live.
			if !last.Less(e.cur) {
				continue
			}
			if !s.send(e.msg) {
				return
			}
			last = e.cur
		}
	}
}

func (s *Subscription) send(m Message) bool {
	select {
	case s.ch <- m:
		return true
	case <-s.done:
		return false
	}
}
