package domain

import "encoding/json"

// Agent event types, as stored in the log and sent on live feeds.
const (
	EventAgentCreated = "agent.created"
	EventAgentUpdated = "agent.updated"
	EventAgentDeleted = "agent.deleted"
)

// StreamTypeAgent is the stream type of agent streams; a stream id is "agent-<uuid>".
const StreamTypeAgent = "agent"

// AgentStreamID returns the log stream of one agent.
func AgentStreamID(id string) string { return "agent-" + id }

// AgentCreated is schema v2: personality settings are grouped under "personality". v1 payloads,
// written before that grouping, carried "traits" and "temperature" at the top level and had no
// style or token limit; upcastAgentCreatedV1 converts them on read.
type AgentCreated struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Role         string      `json:"role"`
	Provider     Provider    `json:"provider"`
	Model        string      `json:"model"`
	Personality  Personality `json:"personality"`
	SystemPrompt string      `json:"system_prompt"`
	Tools        []string    `json:"tools"`
	// CreatedBy is the id of the user who owns the agent; empty for agents created before
	// accounts existed, which only admins can reach. Optional, so still schema v2.
	CreatedBy string `json:"created_by,omitempty"`
}

func (*AgentCreated) EventType() string { return EventAgentCreated }

func newAgentCreated(id string, s AgentSpec, owner string) *AgentCreated {
	return &AgentCreated{ID: id, Name: s.Name, Role: s.Role, Provider: s.Provider, Model: s.Model,
		Personality: s.Personality, SystemPrompt: s.SystemPrompt, Tools: s.Tools, CreatedBy: owner}
}

func (e *AgentCreated) spec() AgentSpec {
	return AgentSpec{Name: e.Name, Role: e.Role, Provider: e.Provider, Model: e.Model,
		Personality: e.Personality, SystemPrompt: e.SystemPrompt, Tools: e.Tools}
}

// AgentUpdated carries the agent's whole new state plus the fields that changed, so that a
// projection needs no earlier event to apply it and an auditor sees what moved.
type AgentUpdated struct {
	ID           string      `json:"id"`
	Changed      []string    `json:"changed"`
	Name         string      `json:"name"`
	Role         string      `json:"role"`
	Provider     Provider    `json:"provider"`
	Model        string      `json:"model"`
	Personality  Personality `json:"personality"`
	SystemPrompt string      `json:"system_prompt"`
	Tools        []string    `json:"tools"`
}

func (*AgentUpdated) EventType() string { return EventAgentUpdated }

func newAgentUpdated(id string, s AgentSpec, changed []string) *AgentUpdated {
	return &AgentUpdated{ID: id, Changed: changed, Name: s.Name, Role: s.Role, Provider: s.Provider,
		Model: s.Model, Personality: s.Personality, SystemPrompt: s.SystemPrompt, Tools: s.Tools}
}

func (e *AgentUpdated) spec() AgentSpec {
	return AgentSpec{Name: e.Name, Role: e.Role, Provider: e.Provider, Model: e.Model,
		Personality: e.Personality, SystemPrompt: e.SystemPrompt, Tools: e.Tools}
}

// AgentDeleted ends an agent's life; its stream stays in the log for audit.
type AgentDeleted struct {
	ID string `json:"id"`
}

func (*AgentDeleted) EventType() string { return EventAgentDeleted }

// AgentCreatedV1 is the first stored shape of agent.created, kept for the upcaster and its tests.
type AgentCreatedV1 struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Provider     Provider `json:"provider"`
	Model        string   `json:"model"`
	Traits       []string `json:"traits"`
	Temperature  float64  `json:"temperature"`
	SystemPrompt string   `json:"system_prompt"`
	Tools        []string `json:"tools"`
}

func upcastAgentCreatedV1(payload []byte) ([]byte, error) {
	var v1 AgentCreatedV1
	if err := json.Unmarshal(payload, &v1); err != nil {
		return nil, err
	}
	if v1.Traits == nil {
		v1.Traits = []string{}
	}
	if v1.Tools == nil {
		v1.Tools = []string{}
	}
	return json.Marshal(AgentCreated{
		ID: v1.ID, Name: v1.Name, Role: v1.Role, Provider: v1.Provider, Model: v1.Model,
		Personality: Personality{
			Traits:             v1.Traits,
			CommunicationStyle: defaultCommunicator,
			Temperature:        v1.Temperature,
			MaxTokens:          DefaultMaxTokens,
		},
		SystemPrompt: v1.SystemPrompt, Tools: v1.Tools,
	})
}

func agentEventSpecs() []EventSpec {
	return []EventSpec{
		{Type: EventAgentCreated, Version: 2, New: func() Event { return &AgentCreated{} },
			Upcasters: map[int]func([]byte) ([]byte, error){1: upcastAgentCreatedV1}},
		{Type: EventAgentUpdated, Version: 1, New: func() Event { return &AgentUpdated{} }},
		{Type: EventAgentDeleted, Version: 1, New: func() Event { return &AgentDeleted{} }},
	}
}
