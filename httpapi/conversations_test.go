package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type convResp struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	TurnsTaken int    `json:"turns_taken"`
	EndReason  string `json:"end_reason"`
	Turns      []struct {
		Number    int    `json:"number"`
		SpeakerID string `json:"speaker_id"`
		Content   string `json:"content"`
	} `json:"turns"`
	Messages []struct {
		Content   string `json:"content"`
		AfterTurn int    `json:"after_turn"`
	} `json:"messages"`
	Summary []string `json:"summary"`
}

// runningCircle makes a running circle with two offline agents and returns their ids.
func (s *server) runningCircle(name string) (string, string) {
	s.t.Helper()
	a, b := s.offlineAgent(), s.offlineAgent()
	s.do("PATCH", "/agents/"+b, map[string]any{"name": "Bob"})
	s.do("PATCH", "/agents/"+a, map[string]any{"name": "Ada"})
	if r := s.do("POST", "/circles", map[string]any{"name": name}); r.status != 201 {
		s.t.Fatalf("circle: %d %s", r.status, r.body)
	}
	for _, id := range []string{a, b} {
		if r := s.do("POST", "/circles/"+name+"/members", map[string]any{"agent_id": id}); r.status != 200 {
			s.t.Fatalf("member: %d %s", r.status, r.body)
		}
	}
	s.do("POST", "/circles/"+name+"/start", nil)
	return a, b
}

func (s *server) conversation(id string) convResp {
	s.t.Helper()
	var c convResp
	r := s.do("GET", "/conversations/"+id, nil)
	if r.status != 200 {
		s.t.Fatalf("conversation: %d %s", r.status, r.body)
	}
	_ = json.Unmarshal(r.body, &c)
	return c
}

func (s *server) waitConversation(id string, done func(convResp) bool) convResp {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := s.conversation(id)
		if done(c) {
			return c
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("conversation never got there: %+v", c)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestConversationRunsTurnsAndEndsWithAReason(t *testing.T) {
	s := start(t)
	a, b := s.runningCircle("talkers")
	feed := dial(t, s, "/ws/circles/talkers")
	r := s.do("POST", "/conversations", map[string]any{"circle": "talkers", "participants": []string{a, b}, "topic": "naming",
		"max_turns": 3, "strategy": "round_robin"})
	if r.status != 201 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	done := s.waitConversation(id, func(c convResp) bool { return c.Status == "ended" })
	if done.EndReason != "max_turns" || done.TurnsTaken != 3 || done.Turns[0].SpeakerID != a || done.Turns[1].SpeakerID != b ||
		done.Turns[2].SpeakerID != a || len(done.Summary) != 2 || !strings.HasPrefix(done.Turns[0].Content, "[offline model]") {
		t.Fatalf("%+v", done)
	}
	// The list (a read model) catches up with the stream and says the same.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Items []struct {
				ID         string `json:"id"`
				Status     string `json:"status"`
				TurnsTaken int    `json:"turns_taken"`
				EndReason  string `json:"end_reason"`
			} `json:"items"`
		}
		_ = json.Unmarshal(s.do("GET", "/circles/talkers/conversations", nil).body, &list)
		if len(list.Items) == 1 && list.Items[0].ID == id && list.Items[0].Status == "ended" {
			if list.Items[0].TurnsTaken != 3 || list.Items[0].EndReason != "max_turns" {
				t.Fatalf("listed: %+v", list.Items[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the list never showed the ended conversation: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.do("GET", "/conversations?circle=talkers&status=ended", nil); r.status != 200 || !strings.Contains(string(r.body), id) {
		t.Fatalf("GET /conversations: %d %s", r.status, r.body)
	}
	// Every turn is on the circle's feed.
	turns := 0
	_ = feed.SetReadDeadline(time.Now().Add(10 * time.Second))
	for turns < 3 {
		var m struct{ Type string }
		if err := feed.ReadJSON(&m); err != nil {
			t.Fatalf("feed: %v after %d turns", err, turns)
		}
		if m.Type == "conversation.turn_taken" {
			turns++
		}
	}

	// A completion marker ends it early, and says so.
	r = s.do("POST", "/conversations", map[string]any{"circle": "talkers", "participants": []string{a, b}, "topic": "quick",
		"initial_prompt": "Agree and close with [DONE]", "max_turns": 10})
	marker := s.waitConversation(r.json(t)["id"].(string), func(c convResp) bool { return c.Status == "ended" })
	if marker.EndReason != "completion_marker" || marker.TurnsTaken != 1 {
		t.Fatalf("%+v", marker)
	}
}

func TestConversationTakesAPersonsPostAndStops(t *testing.T) {
	s := start(t)
	a, b := s.runningCircle("people")
	r := s.do("POST", "/conversations", map[string]any{"circle": "people", "participants": []string{a, b}, "topic": "long talk",
		"max_turns": 200, "strategy": "mention_based"})
	id := r.json(t)["id"].(string)
	s.waitConversation(id, func(c convResp) bool { return c.TurnsTaken >= 1 })
	if r := s.do("POST", "/conversations/"+id+"/messages", map[string]any{"content": "Please consider cost, @Bob."}); r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	after := s.waitConversation(id, func(c convResp) bool {
		return len(c.Messages) == 1 && c.TurnsTaken > c.Messages[0].AfterTurn
	})
	// The next recorded turn answers the post (who speaks follows the mention rules, tested in
	// the domain: a mention of the agent who just spoke passes to the other).
	next := after.Turns[after.Messages[0].AfterTurn]
	if !strings.Contains(next.Content, "Please consider cost") {
		t.Fatalf("the turn after the post did not take it: %+v", next)
	}
	if r := s.do("POST", "/conversations/"+id+"/stop", nil); r.status != 200 || r.json(t)["end_reason"] != "stopped" {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	stopped := s.conversation(id).TurnsTaken
	time.Sleep(200 * time.Millisecond)
	if c := s.conversation(id); c.TurnsTaken != stopped {
		t.Fatalf("turns went on after the stop: %d then %d", stopped, c.TurnsTaken)
	}
	if r := s.do("POST", "/conversations/"+id+"/messages", map[string]any{"content": "late"}); r.status != 409 {
		t.Fatalf("post after the end: %d", r.status)
	}
}

func TestConversationBadInputAppendsNothing(t *testing.T) {
	s := start(t)
	a, b := s.runningCircle("strict")
	stranger := s.offlineAgent()
	before := s.eventCount()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"participants": []string{a, b}, "topic": "x"}, "circle"},
		{map[string]any{"circle": "nowhere", "participants": []string{a, b}, "topic": "x"}, "circle"},
		{map[string]any{"circle": "strict", "participants": []string{a, stranger}, "topic": "x"}, "participants[1]"},
		{map[string]any{"circle": "strict", "participants": []string{a}, "topic": "x"}, "participants"},
		{map[string]any{"circle": "strict", "participants": []string{a, b}, "topic": ""}, "topic"},
		{map[string]any{"circle": "strict", "participants": []string{a, b}, "topic": "x", "strategy": "chaos"}, "strategy"},
		{map[string]any{"circle": "strict", "participants": []string{a, b}, "topic": "x", "strategy": "facilitator_led"}, "facilitator_id"},
		{map[string]any{"circle": "strict", "participants": []string{a, b}, "topic": "x", "max_turns": 500}, "max_turns"},
	} {
		r := s.do("POST", "/conversations", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}
	if s.eventCount() != before {
		t.Fatal("invalid conversations appended events")
	}
	s.do("POST", "/circles/strict/stop", nil)
	if r := s.do("POST", "/conversations", map[string]any{"circle": "strict", "participants": []string{a, b}, "topic": "x"}); r.status != 409 {
		t.Fatalf("a stopped circle: %d", r.status)
	}
}
