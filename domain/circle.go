package domain

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A circle is a group of agents that work together: it hosts their conversations and tasks and
// scopes what they share.
const (
	StreamTypeCircle = "circle"

	EventCircleCreated       = "circle.created"
	EventCircleMemberAdded   = "circle.member_added"
	EventCircleMemberRemoved = "circle.member_removed"
	EventCircleStarted       = "circle.started"
	EventCircleStopped       = "circle.stopped"
	EventCircleArchived      = "circle.archived"

	MaxCircleDescriptionLen = 2000
	MaxCircleMembers        = 50
	MaxCompetencies         = 20
)

// CircleStatus is a circle's lifecycle state.
type CircleStatus string

const (
	CircleStatusCreated  CircleStatus = "created"
	CircleStatusRunning  CircleStatus = "running"
	CircleStatusStopped  CircleStatus = "stopped"
	CircleStatusArchived CircleStatus = "archived"
)

// MemberRole is what a member does in a circle.
type MemberRole string

// MemberRoles are the roles of the design document, in a stable order.
var MemberRoles = []MemberRole{"lead", "member", "specialist", "reviewer", "observer"}

// circleNamePattern keeps names usable in URLs (/circles/{name}) and in @mentions.
var circleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,62}$`)

// CircleStreamID returns the log stream of one circle.
func CircleStreamID(id string) string { return "circle-" + id }

// Member is an agent in a circle.
type Member struct {
	AgentID      string     `json:"agent_id"`
	Role         MemberRole `json:"role"`
	Competencies []string   `json:"competencies"`
}

// Circle is the aggregate.
type Circle struct {
	ID          string
	Name        string
	Description string
	Owner       string
	Status      CircleStatus
	Members     map[string]Member
	Version     int64
}

// Apply folds one event into the circle.
func (c *Circle) Apply(e Event) {
	c.Version++
	switch ev := e.(type) {
	case *CircleCreated:
		c.ID, c.Name, c.Description, c.Owner, c.Status, c.Members = ev.ID, ev.Name, ev.Description, ev.Owner, CircleStatusCreated, map[string]Member{}
	case *CircleMemberAdded:
		c.Members[ev.Member.AgentID] = ev.Member
	case *CircleMemberRemoved:
		delete(c.Members, ev.AgentID)
	case *CircleStarted:
		c.Status = CircleStatusRunning
	case *CircleStopped:
		c.Status = CircleStatusStopped
	case *CircleArchived:
		c.Status = CircleStatusArchived
	}
}

// Create decides whether a circle may be founded.
func (c *Circle) Create(actor Actor, id, name, description string) ([]Event, error) {
	if c.Version > 0 {
		return nil, Errorf(CodeConflict, "circle %s already exists", id)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	description = strings.TrimSpace(description)
	var v Validation
	if !circleNamePattern.MatchString(name) {
		v.Add("name", "must be 2 to 63 characters: lowercase letters, digits, - and _, starting with a letter or digit")
	}
	if n := utf8.RuneCountInString(description); n > MaxCircleDescriptionLen {
		v.Add("description", "must be at most %d characters (got %d)", MaxCircleDescriptionLen, n)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{&CircleCreated{ID: id, Name: name, Description: description, Owner: actor.ID}}, nil
}

func (c *Circle) authorize(actor Actor) error {
	if c.Version == 0 {
		return Errorf(CodeNotFound, "circle not found")
	}
	if !actor.IsAdmin() && actor.ID != c.Owner {
		return Errorf(CodeForbidden, "only the circle's owner or an admin may change it")
	}
	if c.Status == CircleStatusArchived {
		return Errorf(CodeConflict, "the circle is archived")
	}
	return nil
}

// AddMember adds an agent (which the caller has checked the actor may use) with a role and
// competencies, or updates them if it is already a member.
func (c *Circle) AddMember(actor Actor, m Member) ([]Event, error) {
	if err := c.authorize(actor); err != nil {
		return nil, err
	}
	if m.Role == "" {
		m.Role = "member"
	}
	var v Validation
	known := false
	for _, r := range MemberRoles {
		known = known || r == m.Role
	}
	if !known {
		v.Add("role", "must be one of lead, member, specialist, reviewer, observer")
	}
	if len(m.Competencies) > MaxCompetencies {
		v.Add("competencies", "at most %d (got %d)", MaxCompetencies, len(m.Competencies))
	}
	seen := map[string]bool{}
	comps := make([]string, 0, len(m.Competencies))
	for i, comp := range m.Competencies {
		comp = strings.ToLower(strings.TrimSpace(comp))
		if comp == "" || utf8.RuneCountInString(comp) > 40 {
			v.Add("competencies["+strconv.Itoa(i)+"]", "must be 1 to 40 characters")
		} else if !seen[comp] {
			seen[comp] = true
			comps = append(comps, comp)
		}
	}
	if _, already := c.Members[m.AgentID]; !already && len(c.Members) >= MaxCircleMembers {
		v.Add("agent_id", "the circle already has %d members", MaxCircleMembers)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	m.Competencies = comps
	return []Event{&CircleMemberAdded{Member: m}}, nil
}

// RemoveMember takes an agent out of the circle.
func (c *Circle) RemoveMember(actor Actor, agentID string) ([]Event, error) {
	if err := c.authorize(actor); err != nil {
		return nil, err
	}
	if _, ok := c.Members[agentID]; !ok {
		return nil, Errorf(CodeNotFound, "agent %s is not a member of this circle", agentID)
	}
	return []Event{&CircleMemberRemoved{AgentID: agentID}}, nil
}

// Start opens the circle for work; it needs members.
func (c *Circle) Start(actor Actor) ([]Event, error) {
	if err := c.authorize(actor); err != nil {
		return nil, err
	}
	if c.Status == CircleStatusRunning {
		return nil, nil
	}
	if len(c.Members) == 0 {
		return nil, Errorf(CodeConflict, "a circle needs at least one member to start")
	}
	return []Event{&CircleStarted{}}, nil
}

// Stop pauses the circle's work.
func (c *Circle) Stop(actor Actor, reason string) ([]Event, error) {
	if err := c.authorize(actor); err != nil {
		return nil, err
	}
	if c.Status != CircleStatusRunning {
		return nil, Errorf(CodeConflict, "only a running circle can be stopped (it is %s)", c.Status)
	}
	return []Event{&CircleStopped{Reason: strings.TrimSpace(reason)}}, nil
}

// Archive retires the circle for good; its history stays in the log.
func (c *Circle) Archive(actor Actor) ([]Event, error) {
	if err := c.authorize(actor); err != nil {
		return nil, err
	}
	return []Event{&CircleArchived{}}, nil
}

type CircleCreated struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Owner       string `json:"owner"`
}

func (*CircleCreated) EventType() string { return EventCircleCreated }

type CircleMemberAdded struct {
	Member Member `json:"member"`
}

func (*CircleMemberAdded) EventType() string { return EventCircleMemberAdded }

type CircleMemberRemoved struct {
	AgentID string `json:"agent_id"`
}

func (*CircleMemberRemoved) EventType() string { return EventCircleMemberRemoved }

type CircleStarted struct{}

func (*CircleStarted) EventType() string { return EventCircleStarted }

type CircleStopped struct {
	Reason string `json:"reason,omitempty"`
}

func (*CircleStopped) EventType() string { return EventCircleStopped }

type CircleArchived struct{}

func (*CircleArchived) EventType() string { return EventCircleArchived }

func circleEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventCircleCreated, func() Event { return &CircleCreated{} }),
		spec(EventCircleMemberAdded, func() Event { return &CircleMemberAdded{} }),
		spec(EventCircleMemberRemoved, func() Event { return &CircleMemberRemoved{} }),
		spec(EventCircleStarted, func() Event { return &CircleStarted{} }),
		spec(EventCircleStopped, func() Event { return &CircleStopped{} }),
		spec(EventCircleArchived, func() Event { return &CircleArchived{} }),
	}
}
