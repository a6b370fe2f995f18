// Package livefeed fans the event log out to live clients. One follower per process reads the
// log in gap-safe global order and hands each event to every subscription whose topics match;
// a client that reconnects resumes from the last position it saw without gap or duplicate.
// Transport (WebSocket framing, JSON writing) belongs to httpapi: this package only decides who
// gets which event, in which order, and who is too slow to keep.
package livefeed

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
)

// TopicAll is the topic every event is published on.
const TopicAll = "all"

// Message is what a live client receives: the design document's shape plus the position a
// client resumes from and the time the event occurred.
type Message struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	Position  int64           `json:"position"`
	Timestamp time.Time       `json:"timestamp"`
	Stream    StreamRef       `json:"stream"`
	Topics    []string        `json:"topics"`
}

// StreamRef names the stream an event belongs to and the stream version it produced, so a
// client can tell whether its copy of an aggregate is current.
type StreamRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Version int64  `json:"version"`
}

// TopicsOf returns the topics an event is published on: the plural of its stream type
// ("agents"), that plural with the stream's own id ("agents:<uuid>", the "<type>-" prefix of
// the stream id removed) and "all". Clients think in collections and items, not in stream ids.
func TopicsOf(e eventlog.Event) []string {
	if e.StreamType == "" {
		return []string{TopicAll}
	}
	collection := plural(e.StreamType)
	id := strings.TrimPrefix(e.StreamID, e.StreamType+"-")
	topics := []string{collection, collection + ":" + id, TopicAll}
	// An event about an agent's work in another stream (a chat reply) also belongs on that
	// agent's feed; its command names the agent in the metadata.
	if agent := e.Metadata.Extra[MetadataAgent]; agent != "" && e.StreamType != "agent" {
		topics = append(topics, "agents:"+agent)
	}
	if circle := e.Metadata.Extra[MetadataCircle]; circle != "" && e.StreamType != "circle" {
		topics = append(topics, "circles:"+circle)
	}
	// A run's events belong on its pipeline's feed, where the editor shows runs live.
	if p := e.Metadata.Extra[MetadataPipeline]; p != "" && e.StreamType != "pipeline" {
		topics = append(topics, "pipelines:"+p)
	}
	if sc := e.Metadata.Extra[MetadataSchedule]; sc != "" && e.StreamType != "schedule" {
		topics = append(topics, "schedules:"+sc)
	}
	return topics
}

// MetadataCircle is the metadata key naming the circle an event concerns (a conversation's
// turns belong on the circle's feed).
const MetadataCircle = "circle_id"

// MetadataPipeline is the metadata key naming the pipeline of a run's events.
const MetadataPipeline = "pipeline_id"

// MetadataSchedule is the metadata key naming the schedule of a schedule run's events.
const MetadataSchedule = "schedule_id"

// MetadataAgent is the metadata key naming the agent an event concerns.
const MetadataAgent = "agent_id"

// plural covers regular English nouns, which is what stream types are ("agent", "circle",
// "policy"); a lookup table would have to be kept in step with every new aggregate.
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case len(s) > 1 && strings.HasSuffix(s, "y") && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	default:
		return s + "s"
	}
}

// messageOf shapes an event for clients; sensitive fields (password hashes) never leave.
func messageOf(e eventlog.Event) Message {
	return Message{Type: e.Type, Data: domain.Events.Redact(e.Type, e.Payload), Position: e.Position, Timestamp: e.OccurredAt,
		Stream: StreamRef{ID: e.StreamID, Type: e.StreamType, Version: e.Version}, Topics: TopicsOf(e)}
}

// entry keeps an event's cursor next to its message: clients only see positions, but ordering
// and de-duplication need the full cursor.
type entry struct {
	cur eventlog.Cursor
	msg Message
	// ephemeral marks a message that is not an event of the log (a streamed token).
	ephemeral bool
}

type topicSet map[string]struct{}

func newTopicSet(topics []string) topicSet {
	s := make(topicSet, len(topics))
	for _, t := range topics {
		s[t] = struct{}{}
	}
	return s
}

func (s topicSet) matches(topics []string) bool {
	for _, t := range topics {
		if _, ok := s[t]; ok {
			return true
		}
	}
	return false
}
