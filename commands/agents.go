package commands

import (
	"context"
	"strings"

	"github.com/gathering/gathering/domain"
)

// CreateAgent creates an agent with a server-chosen id.
type CreateAgent struct {
	Envelope
	AgentID string           `json:"agent_id"`
	Spec    domain.AgentSpec `json:"spec"`
}

// UpdateAgent changes some of an agent's fields.
type UpdateAgent struct {
	Envelope
	AgentID string            `json:"agent_id"`
	Patch   domain.AgentPatch `json:"patch"`
}

// DeleteAgent deletes an agent.
type DeleteAgent struct {
	Envelope
	AgentID string `json:"agent_id"`
}

// Agents holds the agent use cases.
type Agents struct{ repo *Repository }

// RegisterAgents adds the agent command handlers to the bus.
func RegisterAgents(b *Bus, repo *Repository) *Agents {
	a := &Agents{repo: repo}
	handle(b, "agents.create", a.Create)
	handle(b, "agents.update", a.Update)
	handle(b, "agents.delete", a.Delete)
	return a
}

func (a *Agents) change(id string, env Envelope) change {
	return change{streamID: domain.AgentStreamID(id), streamType: domain.StreamTypeAgent, env: env}
}

func newAgent() *domain.Agent { return &domain.Agent{} }

func (a *Agents) Create(ctx context.Context, cmd *CreateAgent) (Result, error) {
	return execute(ctx, a.repo, a.change(cmd.AgentID, cmd.Envelope), newAgent, func(agg *domain.Agent) ([]domain.Event, error) {
		return agg.Create(cmd.AgentID, cmd.Spec, cmd.Actor)
	})
}

func (a *Agents) Update(ctx context.Context, cmd *UpdateAgent) (Result, error) {
	if strings.TrimSpace(cmd.AgentID) == "" {
		return Result{}, domain.Errorf(domain.CodeNotFound, "agent not found")
	}
	return execute(ctx, a.repo, a.change(cmd.AgentID, cmd.Envelope), newAgent, func(agg *domain.Agent) ([]domain.Event, error) {
		return agg.Update(cmd.actor(), cmd.Patch)
	})
}

func (a *Agents) Delete(ctx context.Context, cmd *DeleteAgent) (Result, error) {
	return execute(ctx, a.repo, a.change(cmd.AgentID, cmd.Envelope), newAgent, func(agg *domain.Agent) ([]domain.Event, error) {
		return agg.Delete(cmd.actor())
	})
}
