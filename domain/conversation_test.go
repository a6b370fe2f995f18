package domain

import (
	"strings"
	"testing"
)

var trio = []Participant{{AgentID: "a", Name: "Ada"}, {AgentID: "b", Name: "Bob"}, {AgentID: "c", Name: "Cy"}}

func conversation(t *testing.T, s ConversationSpec) *Conversation {
	t.Helper()
	if s.CircleID == "" {
		s.CircleID = "circle"
	}
	if s.Topic == "" {
		s.Topic = "what to build"
	}
	if s.Participants == nil {
		s.Participants = trio
	}
	c := &Conversation{}
	evs, err := c.Create(Actor{ID: "u1", Role: RoleMember}, "conv-1", s)
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(evs[0])
	return c
}

// speak lets whoever NextSpeaker names say content, applying the events.
func speak(t *testing.T, c *Conversation, content string) string {
	t.Helper()
	id, ok := c.NextSpeaker()
	if !ok {
		t.Fatal("no speaker chosen")
	}
	evs, err := c.TakeTurn(len(c.Turns)+1, id, content, len(c.Messages))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		c.Apply(e)
	}
	return id
}

func TestConversationValidation(t *testing.T) {
	cases := []struct {
		spec  ConversationSpec
		field string
	}{
		{ConversationSpec{Topic: "x", Participants: trio}, "circle"},
		{ConversationSpec{CircleID: "c", Participants: trio}, "topic"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: trio[:1]}, "participants"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: []Participant{{AgentID: "a", Name: "Ada"}, {AgentID: "a", Name: "Ann"}}}, "participants[1]"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: trio, MaxTurns: 201}, "max_turns"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: trio, Strategy: "chaos"}, "strategy"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: trio, Strategy: FacilitatorLed, FacilitatorID: "z"}, "facilitator_id"},
		{ConversationSpec{CircleID: "c", Topic: "x", Participants: trio, TimeLimitSec: -1}, "time_limit_seconds"},
	}
	for _, c := range cases {
		_, err := (&Conversation{}).Create(Actor{ID: "u"}, "id", c.spec)
		found := false
		for _, f := range fieldsOf(err) {
			found = found || f == c.field
		}
		if !found {
			t.Errorf("%+v: %v does not name %s", c.spec, err, c.field)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: RoundRobin})
	var order []string
	for i := 0; i < 5; i++ {
		order = append(order, speak(t, c, "thoughts"))
	}
	if strings.Join(order, "") != "abcab" {
		t.Fatalf("order %v", order)
	}
}

func TestMentionBased(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: MentionBased})
	first := speak(t, c, "I think @Cy knows this.")
	second := speak(t, c, "Not me, ask @bob.")
	third := speak(t, c, "No mention here.")
	if first != "a" || second != "c" || third != "b" {
		t.Fatalf("speakers %s %s %s", first, second, third)
	}
	// Without a mention the order goes on from the last speaker.
	if next, _ := c.NextSpeaker(); next != "c" {
		t.Fatalf("after bob without a mention: %s", next)
	}
	// A self-mention does not make the speaker talk twice in a row.
	evs, _ := c.TakeTurn(4, "c", "I, @Cy, will continue", 0)
	c.Apply(evs[0])
	if next, _ := c.NextSpeaker(); next == "c" {
		t.Fatal("a speaker answered its own mention")
	}
}

func TestFreeFormNeverRepeatsTheLastSpeaker(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: FreeForm, MaxTurns: 50})
	last := ""
	for i := 0; i < 30; i++ {
		id := speak(t, c, "musing")
		if id == last {
			t.Fatalf("turn %d: %s spoke twice in a row", i+1, id)
		}
		last = id
	}
	// Deterministic: the same conversation picks the same speakers.
	again := conversation(t, ConversationSpec{Strategy: FreeForm, MaxTurns: 50})
	for i := 0; i < 30; i++ {
		if speak(t, again, "musing") != c.Turns[i].SpeakerID {
			t.Fatal("free form is not deterministic")
		}
	}
	// A mention still wins.
	m := conversation(t, ConversationSpec{Strategy: FreeForm})
	speak(t, m, "over to @Cy")
	if next, _ := m.NextSpeaker(); next != "c" {
		t.Fatalf("mention in free form: %s", next)
	}
}

func TestFacilitatorLed(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: FacilitatorLed, FacilitatorID: "b"})
	got := []string{
		speak(t, c, "Welcome. @Cy, your view?"),
		speak(t, c, "Mine is this."),
		speak(t, c, "Thanks. Anyone else?"),
		speak(t, c, "Me."),
	}
	if strings.Join(got, "") != "bcba" {
		t.Fatalf("speakers %v", got)
	}
}

func TestModelSelected(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: ModelSelected})
	if _, ok := c.NextSpeaker(); ok {
		t.Fatal("model_selected must ask a model")
	}
	if id := c.ParseSelection("I think Bob should speak, then Ada."); id != "b" {
		t.Fatalf("selection %s", id)
	}
	evs, _ := c.TakeTurn(1, "b", "hello", 0)
	c.Apply(evs[0])
	if id := c.ParseSelection("Bob again"); id == "b" {
		t.Fatal("the selector made the last speaker talk twice")
	}
	if id := c.ParseSelection("nobody in particular"); id == "" || id == "b" {
		t.Fatalf("fallback %q", id)
	}
}

func TestTerminationReasons(t *testing.T) {
	max := conversation(t, ConversationSpec{MaxTurns: 2})
	speak(t, max, "one")
	speak(t, max, "two")
	if !max.Ended || max.Reason != EndMaxTurns {
		t.Fatalf("max turns: %+v", max)
	}
	if _, err := max.TakeTurn(3, "c", "three", 0); ErrorCode(err) != CodeConflict {
		t.Fatalf("a turn after the end: %v", err)
	}
	marker := conversation(t, ConversationSpec{})
	speak(t, marker, "We agree. [done]")
	if !marker.Ended || marker.Reason != EndCompletionMarker {
		t.Fatalf("marker: %+v", marker)
	}
	for _, reason := range []EndReason{EndStopped, EndTimeLimit, EndFailed} {
		c := conversation(t, ConversationSpec{})
		evs, err := c.End(reason, "detail")
		if err != nil {
			t.Fatal(err)
		}
		c.Apply(evs[0])
		if c.Reason != reason {
			t.Fatalf("%s: %+v", reason, c)
		}
		if _, err := c.End(EndStopped, ""); ErrorCode(err) != CodeConflict {
			t.Fatal("ended twice")
		}
	}
	// A retried turn is refused.
	dup := conversation(t, ConversationSpec{})
	speak(t, dup, "first")
	if _, err := dup.TakeTurn(1, "a", "first again", 0); ErrorCode(err) != CodeConflict {
		t.Fatalf("duplicate turn: %v", err)
	}
	if _, err := dup.TakeTurn(2, "zed", "who am I", 0); ErrorCode(err) != CodeInvalid {
		t.Fatalf("stranger speaks: %v", err)
	}
}

func TestAPersonsMessageReachesTheNextTurn(t *testing.T) {
	c := conversation(t, ConversationSpec{Strategy: MentionBased})
	speak(t, c, "opening")
	evs, err := c.Post(Actor{ID: "u1", Role: RoleMember}, "m1", "  @Cy please summarise  ")
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(evs[0])
	if c.lastText() != "@Cy please summarise" {
		t.Fatalf("the next turn answers %q", c.lastText())
	}
	if next, _ := c.NextSpeaker(); next != "c" {
		t.Fatalf("the person's mention was ignored: %s", next)
	}
	// A turn written before the post arrived is refused: the next recorded turn answers it.
	if _, err := c.TakeTurn(2, "c", "written without the post", 0); ErrorCode(err) != CodeConflict {
		t.Fatalf("a turn that missed a post: %v", err)
	}
	if _, err := c.Post(Actor{ID: "u2", Role: RoleMember}, "m2", "hi"); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a stranger posts: %v", err)
	}
	if _, err := c.Post(Actor{ID: "u1", Role: RoleMember}, "m3", "   "); ErrorCode(err) != CodeInvalid {
		t.Fatalf("empty post: %v", err)
	}
}
