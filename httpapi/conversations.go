package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
)

type conversationInput struct {
	Circle        string              `json:"circle"`
	Participants  []string            `json:"participants"`
	Topic         string              `json:"topic"`
	InitialPrompt string              `json:"initial_prompt"`
	MaxTurns      int                 `json:"max_turns"`
	Strategy      domain.TurnStrategy `json:"strategy"`
	FacilitatorID string              `json:"facilitator_id"`
	TimeLimitSec  int                 `json:"time_limit_seconds"`
}

type conversationView struct {
	ID           string                `json:"id"`
	CircleID     string                `json:"circle_id"`
	Topic        string                `json:"topic"`
	Strategy     domain.TurnStrategy   `json:"strategy"`
	Participants []domain.Participant  `json:"participants"`
	Status       string                `json:"status"` // running, ended
	TurnsTaken   int                   `json:"turns_taken"`
	MaxTurns     int                   `json:"max_turns"`
	EndReason    domain.EndReason      `json:"end_reason,omitempty"`
	EndDetail    string                `json:"end_detail,omitempty"`
	Turns        []domain.Turn         `json:"turns"`
	Messages     []domain.HumanMessage `json:"messages"`
	Summary      []string              `json:"summary"`
	Version      int64                 `json:"version"`
	CreatedAt    time.Time             `json:"created_at"`
}

// startConversation checks that the circle is the caller's and that every participant is one
// of its members, names them after their agents, and starts the turns.
func (s *Server) startConversation(c *fiber.Ctx) error {
	var in conversationInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Circle) == "" {
		return invalid("circle", "is required (a circle name)")
	}
	circle, err := s.deps.Circles.ByName(c.UserContext(), strings.ToLower(in.Circle))
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return invalid("circle", "no such circle")
	}
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && circle.Owner != p.UserID {
		return domain.Errorf(domain.CodeForbidden, "this circle is not yours")
	}
	if circle.Status != string(domain.CircleStatusRunning) {
		return domain.Errorf(domain.CodeConflict, "the circle is %s; start it first", circle.Status)
	}
	members := map[string]string{}
	for _, m := range circle.Members {
		members[m.AgentID] = m.AgentName
	}
	spec := domain.ConversationSpec{CircleID: circle.ID, Topic: in.Topic, InitialPrompt: in.InitialPrompt, MaxTurns: in.MaxTurns,
		Strategy: in.Strategy, FacilitatorID: in.FacilitatorID, TimeLimitSec: in.TimeLimitSec}
	for i, id := range in.Participants {
		name, ok := members[id]
		if !ok {
			return invalid("participants["+strconv.Itoa(i)+"]", "is not a member of the circle")
		}
		spec.Participants = append(spec.Participants, domain.Participant{AgentID: id, Name: name})
	}
	id := uuid.NewString()
	env := envelope(c)
	env.Context[livefeed.MetadataCircle] = circle.ID
	if _, err := s.deps.Bus.Send(c.UserContext(), &commands.StartConversation{Envelope: env, ConversationID: id, Spec: spec}); err != nil {
		return err
	}
	v, err := s.loadConversation(c, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/conversations/"+id)
	return c.Status(http.StatusCreated).JSON(v)
}

// loadConversation reads a conversation from its stream (no read model yet).
func (s *Server) loadConversation(c *fiber.Ctx, id string) (conversationView, error) {
	if _, err := uuid.Parse(id); err != nil {
		return conversationView{}, domain.Errorf(domain.CodeNotFound, "conversation %s not found", id)
	}
	conv, events, err := s.deps.Repo.LoadConversation(c.UserContext(), id)
	if err != nil {
		return conversationView{}, err
	}
	if conv.Version == 0 {
		return conversationView{}, domain.Errorf(domain.CodeNotFound, "conversation %s not found", id)
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && conv.Owner != p.UserID {
		return conversationView{}, domain.Errorf(domain.CodeForbidden, "this conversation is not yours")
	}
	v := conversationView{ID: conv.ID, CircleID: conv.Spec.CircleID, Topic: conv.Spec.Topic, Strategy: conv.Spec.Strategy,
		Participants: conv.Spec.Participants, Status: "running", TurnsTaken: len(conv.Turns), MaxTurns: conv.Spec.MaxTurns,
		Turns: conv.Turns, Messages: conv.Messages, Version: conv.Version, CreatedAt: events[0].OccurredAt, Summary: []string{}}
	if v.Turns == nil {
		v.Turns = []domain.Turn{}
	}
	if v.Messages == nil {
		v.Messages = []domain.HumanMessage{}
	}
	if conv.Ended {
		v.Status, v.EndReason = "ended", conv.Reason
		for _, e := range events {
			if ev, err := domain.Events.Decode(e.Type, e.SchemaVersion, e.Payload); err == nil {
				if end, ok := ev.(*domain.ConversationEnded); ok {
					v.EndDetail = end.Detail
				}
			}
		}
	}
	// The summary quotes each participant's latest contribution, shortened: an extract that
	// needs no model and cannot invent anything.
	for _, part := range conv.Spec.Participants {
		for i := len(conv.Turns) - 1; i >= 0; i-- {
			if conv.Turns[i].SpeakerID == part.AgentID {
				text := []rune(conv.Turns[i].Content)
				if len(text) > 200 {
					text = append(text[:200], '…')
				}
				v.Summary = append(v.Summary, part.Name+": "+string(text))
				break
			}
		}
	}
	return v, nil
}

func (s *Server) getConversation(c *fiber.Ctx) error {
	v, err := s.loadConversation(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) postToConversation(c *fiber.Ctx) error {
	var in struct {
		Content string `json:"content"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	v, err := s.loadConversation(c, c.Params("id"))
	if err != nil {
		return err
	}
	env := envelope(c)
	env.Context[livefeed.MetadataCircle] = v.CircleID
	if _, err := s.deps.Bus.Send(c.UserContext(), &commands.PostToConversation{Envelope: env, ConversationID: v.ID,
		MessageID: uuid.NewString(), Content: in.Content}); err != nil {
		return err
	}
	v, err = s.loadConversation(c, v.ID)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(v)
}

func (s *Server) stopConversation(c *fiber.Ctx) error {
	v, err := s.loadConversation(c, c.Params("id"))
	if err != nil {
		return err
	}
	env := envelope(c)
	env.Context[livefeed.MetadataCircle] = v.CircleID
	if _, err := s.deps.Bus.Send(c.UserContext(), &commands.EndConversation{Envelope: env, ConversationID: v.ID,
		Reason: domain.EndStopped, Detail: "stopped by a person"}); err != nil {
		return err
	}
	v, err = s.loadConversation(c, v.ID)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// listConversations lists the caller's conversations (an admin's: everyone's), newest first.
func (s *Server) listConversations(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	owner := ""
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		owner = p.UserID
	}
	circleID := ""
	if name := strings.TrimSpace(c.Query("circle")); name != "" {
		circle, err := s.deps.Circles.ByName(c.UserContext(), strings.ToLower(name))
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return invalid("circle", "no such circle")
		}
		if err != nil {
			return err
		}
		circleID = circle.ID
	}
	items, err := s.deps.Conversations.List(c.UserContext(), circleID, owner, strings.TrimSpace(c.Query("status")), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}
