package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A conversation is agents of a circle talking in turns about a topic, with people able to
// post into it. This file holds its rules: who speaks next under each turn strategy, and when
// it ends and why. Running turns as jobs and serving it over HTTP build on it.
const (
	StreamTypeConversation = "conversation"

	EventConversationCreated       = "conversation.created"
	EventConversationTurnTaken     = "conversation.turn_taken"
	EventConversationMessagePosted = "conversation.message_posted"
	EventConversationEnded         = "conversation.ended"

	MaxConversationParticipants = 20
	MaxConversationTurns        = 200
	DefaultConversationTurns    = 10
	MaxTopicLen                 = 500
	MaxTurnLen                  = 50000
)

// TurnStrategy decides who speaks next.
type TurnStrategy string

const (
	RoundRobin     TurnStrategy = "round_robin"     // each in order
	MentionBased   TurnStrategy = "mention_based"   // the first @Name in the last message, else in order
	FreeForm       TurnStrategy = "free_form"       // a mention, else anyone but the last speaker
	FacilitatorLed TurnStrategy = "facilitator_led" // the facilitator speaks every other turn and picks who answers
	ModelSelected  TurnStrategy = "model_selected"  // a model reads the conversation and names the next speaker
)

// TurnStrategies lists the strategies in a stable order.
var TurnStrategies = []TurnStrategy{RoundRobin, MentionBased, FreeForm, FacilitatorLed, ModelSelected}

// EndReason says why a conversation ended; the end event records it.
type EndReason string

const (
	EndMaxTurns         EndReason = "max_turns"
	EndCompletionMarker EndReason = "completion_marker"
	EndStopped          EndReason = "stopped"
	EndTimeLimit        EndReason = "time_limit"
	EndFailed           EndReason = "failed"
)

// CompletionMarkers end a conversation when a speaker writes one.
var CompletionMarkers = []string{"[DONE]", "[COMPLETE]", "[END]"}

// ConversationStreamID returns the log stream of one conversation.
func ConversationStreamID(id string) string { return "conversation-" + id }

// Participant is an agent taking part, with the name others @mention it by.
type Participant struct {
	AgentID string `json:"agent_id"`
	Name    string `json:"name"`
}

// Turn is one contribution of an agent.
type Turn struct {
	Number    int    `json:"number"`
	SpeakerID string `json:"speaker_id"`
	Content   string `json:"content"`
	// Context is the long-term memory and knowledge the speaker's prompt was given.
	Context *InjectedContext `json:"context,omitempty"`
}

// HumanMessage is a person's post; it is taken into the next turn's prompt.
type HumanMessage struct {
	ID      string `json:"id"`
	Author  string `json:"author"`
	Content string `json:"content"`
	// AfterTurn is how many turns had been taken when it was posted.
	AfterTurn int `json:"after_turn"`
}

// ConversationSpec is what a person decides when starting a conversation.
type ConversationSpec struct {
	CircleID      string        `json:"circle_id"`
	Topic         string        `json:"topic"`
	InitialPrompt string        `json:"initial_prompt"`
	Participants  []Participant `json:"participants"`
	MaxTurns      int           `json:"max_turns"`
	Strategy      TurnStrategy  `json:"strategy"`
	FacilitatorID string        `json:"facilitator_id,omitempty"`
	TimeLimitSec  int           `json:"time_limit_seconds"`
}

// Conversation is the aggregate.
type Conversation struct {
	ID       string
	Owner    string
	Spec     ConversationSpec
	Turns    []Turn
	Messages []HumanMessage
	Ended    bool
	Reason   EndReason
	Version  int64
}

// Apply folds one event into the conversation.
func (c *Conversation) Apply(e Event) {
	c.Version++
	switch ev := e.(type) {
	case *ConversationCreated:
		c.ID, c.Owner, c.Spec = ev.ID, ev.Owner, ev.Spec
	case *ConversationTurnTaken:
		c.Turns = append(c.Turns, ev.Turn)
	case *ConversationMessagePosted:
		c.Messages = append(c.Messages, ev.Message)
	case *ConversationEnded:
		c.Ended, c.Reason = true, ev.Reason
	}
}

// Create decides whether a conversation may start with this spec.
func (c *Conversation) Create(actor Actor, id string, s ConversationSpec) ([]Event, error) {
	if c.Version > 0 {
		return nil, Errorf(CodeConflict, "conversation %s already exists", id)
	}
	s.Topic = strings.TrimSpace(s.Topic)
	s.InitialPrompt = strings.TrimSpace(s.InitialPrompt)
	if s.MaxTurns == 0 {
		s.MaxTurns = DefaultConversationTurns
	}
	if s.Strategy == "" {
		s.Strategy = RoundRobin
	}
	var v Validation
	if s.CircleID == "" {
		v.Add("circle", "is required")
	}
	switch n := utf8.RuneCountInString(s.Topic); {
	case n == 0:
		v.Add("topic", "is required")
	case n > MaxTopicLen:
		v.Add("topic", "must be at most %d characters", MaxTopicLen)
	}
	if len(s.Participants) < 2 || len(s.Participants) > MaxConversationParticipants {
		v.Add("participants", "needs 2 to %d agents (got %d)", MaxConversationParticipants, len(s.Participants))
	}
	seen := map[string]bool{}
	for i, p := range s.Participants {
		if p.AgentID == "" || strings.TrimSpace(p.Name) == "" {
			v.Add("participants["+strconv.Itoa(i)+"]", "needs an agent id and a name")
		} else if seen[p.AgentID] || seen["name:"+strings.ToLower(p.Name)] {
			v.Add("participants["+strconv.Itoa(i)+"]", "appears twice (agents and their names must be distinct)")
		}
		seen[p.AgentID], seen["name:"+strings.ToLower(p.Name)] = true, true
	}
	if s.MaxTurns < 1 || s.MaxTurns > MaxConversationTurns {
		v.Add("max_turns", "must be between 1 and %d (got %d)", MaxConversationTurns, s.MaxTurns)
	}
	known := false
	for _, st := range TurnStrategies {
		known = known || st == s.Strategy
	}
	if !known {
		v.Add("strategy", "must be one of round_robin, mention_based, free_form, facilitator_led, model_selected")
	}
	if s.Strategy == FacilitatorLed && !seen[s.FacilitatorID] {
		v.Add("facilitator_id", "must be one of the participants when the strategy is facilitator_led")
	}
	if s.TimeLimitSec < 0 || s.TimeLimitSec > 86400 {
		v.Add("time_limit_seconds", "must be between 0 (none) and 86400")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{&ConversationCreated{ID: id, Owner: actor.ID, Spec: s}}, nil
}

// NextSpeaker returns who speaks next. With ModelSelected it returns ok=false: the caller asks
// a model and passes its answer to ParseSelection.
func (c *Conversation) NextSpeaker() (agentID string, ok bool) {
	ps := c.Spec.Participants
	n := len(c.Turns)
	last := c.lastSpeaker()
	inOrder := func() string {
		// The next in order after the last speaker, so a mention does not reset the rotation.
		for i, p := range ps {
			if p.AgentID == last {
				return ps[(i+1)%len(ps)].AgentID
			}
		}
		return ps[n%len(ps)].AgentID
	}
	if n == 0 {
		if c.Spec.Strategy == FacilitatorLed {
			return c.Spec.FacilitatorID, true
		}
		if c.Spec.Strategy != ModelSelected {
			return ps[0].AgentID, true
		}
	}
	switch c.Spec.Strategy {
	case RoundRobin:
		return inOrder(), true
	case MentionBased:
		if id := c.mentioned(c.lastText(), last); id != "" {
			return id, true
		}
		return inOrder(), true
	case FreeForm:
		if id := c.mentioned(c.lastText(), last); id != "" {
			return id, true
		}
		others := c.othersThan(last)
		sum := sha256.Sum256([]byte(c.ID + "/" + strconv.Itoa(n)))
		return others[binary.BigEndian.Uint64(sum[:8])%uint64(len(others))].AgentID, true
	case FacilitatorLed:
		f := c.Spec.FacilitatorID
		if last != f {
			return f, true
		}
		if id := c.mentioned(c.lastText(), f); id != "" {
			return id, true
		}
		// Nobody named: the one after the last to answer does, so everyone gets a say.
		others := c.othersThan(f)
		for i := len(c.Turns) - 1; i >= 0; i-- {
			if sp := c.Turns[i].SpeakerID; sp != f {
				for j, p := range others {
					if p.AgentID == sp {
						return others[(j+1)%len(others)].AgentID, true
					}
				}
			}
		}
		return others[0].AgentID, true
	}
	return "", false
}

// ParseSelection picks the participant a selector model named (the first name it mentions,
// with or without @), avoiding the last speaker; an answer naming nobody falls back to order.
func (c *Conversation) ParseSelection(answer string) string {
	last := c.lastSpeaker()
	best, at := "", -1
	lower := strings.ToLower(answer)
	for _, p := range c.Spec.Participants {
		if p.AgentID == last {
			continue
		}
		if i := strings.Index(lower, strings.ToLower(p.Name)); i >= 0 && (at < 0 || i < at) {
			best, at = p.AgentID, i
		}
	}
	if best != "" {
		return best
	}
	others := c.othersThan(last)
	return others[len(c.Turns)%len(others)].AgentID
}

var mentionPattern = regexp.MustCompile(`@([\pL\pN_.-]+)`)

// mentioned returns the first @Name in text that names a participant other than exclude.
func (c *Conversation) mentioned(text, exclude string) string {
	for _, m := range mentionPattern.FindAllStringSubmatch(text, -1) {
		name := strings.TrimRight(m[1], ".,;:!?")
		for _, p := range c.Spec.Participants {
			if strings.EqualFold(strings.ReplaceAll(p.Name, " ", ""), name) && p.AgentID != exclude {
				return p.AgentID
			}
		}
	}
	return ""
}

func (c *Conversation) lastSpeaker() string {
	if len(c.Turns) == 0 {
		return ""
	}
	return c.Turns[len(c.Turns)-1].SpeakerID
}

// LastText is what the next speaker answers (a person's newest post, the last turn or the
// opening prompt).
func (c *Conversation) LastText() string { return c.lastText() }

// lastText is what the next speaker answers: a person's post made after the last turn, or the
// last turn.
func (c *Conversation) lastText() string {
	if n := len(c.Messages); n > 0 && c.Messages[n-1].AfterTurn == len(c.Turns) {
		return c.Messages[n-1].Content
	}
	if len(c.Turns) == 0 {
		return c.Spec.InitialPrompt
	}
	return c.Turns[len(c.Turns)-1].Content
}

func (c *Conversation) othersThan(id string) []Participant {
	var out []Participant
	for _, p := range c.Spec.Participants {
		if p.AgentID != id {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return c.Spec.Participants
	}
	return out
}

// TakeTurn records turn number by speaker and ends the conversation when the turn reaches the
// maximum or carries a completion marker. A number that is not the next one is refused, so a
// retried job never records a turn twice; so is a turn written without the people's posts that
// arrived while it was being written (seenPosts), so that a post is always answered by the next
// recorded turn.
func (c *Conversation) TakeTurn(number int, speakerID, content string, seenPosts int) ([]Event, error) {
	if c.Version == 0 {
		return nil, Errorf(CodeNotFound, "conversation not found")
	}
	if c.Ended {
		return nil, Errorf(CodeConflict, "the conversation ended (%s)", c.Reason)
	}
	if number != len(c.Turns)+1 {
		return nil, Errorf(CodeConflict, "turn %d is already recorded", number)
	}
	if seenPosts != len(c.Messages) {
		return nil, Errorf(CodeConflict, "a person posted while turn %d was written; it is taken again", number)
	}
	isParticipant := false
	for _, p := range c.Spec.Participants {
		isParticipant = isParticipant || p.AgentID == speakerID
	}
	if !isParticipant {
		return nil, Errorf(CodeInvalid, "speaker %s is not a participant", speakerID)
	}
	if utf8.RuneCountInString(content) > MaxTurnLen {
		content = string([]rune(content)[:MaxTurnLen])
	}
	events := []Event{&ConversationTurnTaken{Turn: Turn{Number: number, SpeakerID: speakerID, Content: content}}}
	upper := strings.ToUpper(content)
	for _, m := range CompletionMarkers {
		if strings.Contains(upper, m) {
			return append(events, &ConversationEnded{Reason: EndCompletionMarker, Detail: m + " in turn " + strconv.Itoa(number)}), nil
		}
	}
	if number >= c.Spec.MaxTurns {
		return append(events, &ConversationEnded{Reason: EndMaxTurns, Detail: strconv.Itoa(number) + " turns"}), nil
	}
	return events, nil
}

// Post adds a person's message; the next turn answers it.
func (c *Conversation) Post(actor Actor, id, content string) ([]Event, error) {
	if c.Version == 0 {
		return nil, Errorf(CodeNotFound, "conversation not found")
	}
	if !actor.IsAdmin() && actor.ID != c.Owner {
		return nil, Errorf(CodeForbidden, "only the conversation's owner or an admin may post into it")
	}
	if c.Ended {
		return nil, Errorf(CodeConflict, "the conversation ended (%s)", c.Reason)
	}
	content = strings.TrimSpace(content)
	if n := utf8.RuneCountInString(content); n == 0 || n > MaxChatMessageLen {
		return nil, &Error{Code: CodeInvalid, Message: "content: must be 1 to 20000 characters",
			Fields: []FieldError{{Field: "content", Message: "must be 1 to 20000 characters"}}}
	}
	return []Event{&ConversationMessagePosted{Message: HumanMessage{ID: id, Author: actor.ID, Content: content, AfterTurn: len(c.Turns)}}}, nil
}

// End stops the conversation for a reason (a person's stop, the time limit, a failure).
func (c *Conversation) End(reason EndReason, detail string) ([]Event, error) {
	if c.Version == 0 {
		return nil, Errorf(CodeNotFound, "conversation not found")
	}
	if c.Ended {
		return nil, Errorf(CodeConflict, "the conversation already ended (%s)", c.Reason)
	}
	return []Event{&ConversationEnded{Reason: reason, Detail: detail}}, nil
}

type ConversationCreated struct {
	ID    string           `json:"id"`
	Owner string           `json:"owner"`
	Spec  ConversationSpec `json:"spec"`
}

func (*ConversationCreated) EventType() string { return EventConversationCreated }

type ConversationTurnTaken struct {
	Turn Turn `json:"turn"`
}

func (*ConversationTurnTaken) EventType() string { return EventConversationTurnTaken }

type ConversationMessagePosted struct {
	Message HumanMessage `json:"message"`
}

func (*ConversationMessagePosted) EventType() string { return EventConversationMessagePosted }

type ConversationEnded struct {
	Reason EndReason `json:"reason"`
	Detail string    `json:"detail"`
}

func (*ConversationEnded) EventType() string { return EventConversationEnded }

func conversationEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventConversationCreated, func() Event { return &ConversationCreated{} }),
		spec(EventConversationTurnTaken, func() Event { return &ConversationTurnTaken{} }),
		spec(EventConversationMessagePosted, func() Event { return &ConversationMessagePosted{} }),
		spec(EventConversationEnded, func() Event { return &ConversationEnded{} }),
	}
}
