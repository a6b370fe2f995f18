package commands

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
)

// EmbedItems is the job that embeds a memory or a document's chunks and records it.
type EmbedItems struct {
	ItemKind string `json:"item_kind"` // memory or knowledge
	ID       string `json:"id"`
}

func (EmbedItems) Kind() string { return "embed_items" }

type Remember struct {
	Envelope
	MemoryID string            `json:"memory_id"`
	Spec     domain.MemorySpec `json:"spec"`
}

type Forget struct {
	Envelope
	MemoryID string `json:"memory_id"`
	Reason   string `json:"reason"`
}

// RecordEmbedding is the embedding job's report: the item's text was embedded by Model.
type RecordEmbedding struct {
	Envelope
	Kind      string `json:"kind"`
	ID        string `json:"id"`
	Model     string `json:"model"`
	Dimension int    `json:"dimension"`
	Hash      string `json:"hash,omitempty"`
}

type AddKnowledge struct {
	Envelope
	DocumentID string               `json:"document_id"`
	Spec       domain.KnowledgeSpec `json:"spec"`
}

type RemoveKnowledge struct {
	Envelope
	DocumentID string `json:"document_id"`
}

// Memories holds the memory and knowledge use cases.
type Memories struct {
	repo *Repository
	jobs jobs.Inserter
	now  func() time.Time
}

// RegisterMemories adds the memory handlers to the bus.
func RegisterMemories(b *Bus, repo *Repository, inserter jobs.Inserter) *Memories {
	m := &Memories{repo: repo, jobs: inserter, now: time.Now}
	handle(b, "memory.remember", m.Remember)
	handle(b, "memory.forget", m.Forget)
	handle(b, "memory.record_embedding", m.RecordEmbedding)
	handle(b, "knowledge.add", m.AddKnowledge)
	handle(b, "knowledge.remove", m.RemoveKnowledge)
	return m
}

func newMemory() *domain.Memory       { return &domain.Memory{} }
func newKnowledge() *domain.Knowledge { return &domain.Knowledge{} }

// memoryChange puts the scope's agent or circle in the metadata, so memory events reach the
// live feed of the agent or circle concerned.
func memoryChange(streamID, streamType, scope, scopeID, agentID string, env Envelope) change {
	ctx := map[string]string{}
	for k, v := range env.Context {
		ctx[k] = v
	}
	switch scope {
	case "circle":
		ctx["circle_id"] = scopeID
	case "agent":
		ctx["agent_id"] = scopeID
	}
	if agentID != "" {
		ctx["agent_id"] = agentID
	}
	env.Context = ctx
	return change{streamID: streamID, streamType: streamType, env: env}
}

func (m *Memories) embedJob(kind, id string) func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
	return func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		_, err := m.jobs.InsertTx(ctx, tx, EmbedItems{ItemKind: kind, ID: id}, &river.InsertOpts{MaxAttempts: 10})
		return err
	}
}

var errNoSuchAgent = &domain.Error{Code: domain.CodeInvalid, Message: "agent_id: no such agent",
	Fields: []domain.FieldError{{Field: "agent_id", Message: "no such agent"}}}

// authorizeScope checks that actor may put things in scope scopeID (and write as agentID):
// the scope's agent, circle, conversation or project must be the actor's (or the actor an
// admin). Unknown ids are a field error.
func (m *Memories) authorizeScope(ctx context.Context, actor domain.Actor, scope, scopeID, agentID string) error {
	owned := func(exists bool, owner string) error {
		if !exists {
			return &domain.Error{Code: domain.CodeInvalid, Message: "scope_id: no such " + scope,
				Fields: []domain.FieldError{{Field: "scope_id", Message: "no such " + scope}}}
		}
		if !actor.IsAdmin() && owner != actor.ID {
			return domain.Errorf(domain.CodeForbidden, "this %s is not yours", scope)
		}
		return nil
	}
	if agentID != "" {
		if _, err := uuid.Parse(agentID); err != nil {
			return errNoSuchAgent
		}
		a, err := m.repo.LoadAgent(ctx, agentID)
		if err != nil {
			return err
		}
		if !a.Exists() {
			return errNoSuchAgent
		}
		if !a.AccessibleBy(actor) {
			return domain.Errorf(domain.CodeForbidden, "this agent is not yours")
		}
	}
	if scope != "global" && scopeID != "" {
		if _, err := uuid.Parse(scopeID); err != nil {
			return owned(false, "")
		}
	}
	switch scope {
	case "agent":
		a, err := m.repo.LoadAgent(ctx, scopeID)
		if err != nil {
			return err
		}
		if a.Exists() && !a.AccessibleBy(actor) {
			return domain.Errorf(domain.CodeForbidden, "this agent is not yours")
		}
		return owned(a.Exists(), actor.ID)
	case "circle":
		c, err := m.repo.LoadCircle(ctx, scopeID)
		if err != nil {
			return err
		}
		return owned(c.Version > 0, c.Owner)
	case "conversation":
		c, _, err := m.repo.LoadConversation(ctx, scopeID)
		if err != nil {
			return err
		}
		return owned(c.Version > 0, c.Owner)
	case "project":
		p, err := m.repo.LoadProject(ctx, scopeID)
		if err != nil {
			return err
		}
		return owned(p.Version > 0, p.Owner)
	}
	return nil
}

func (m *Memories) Remember(ctx context.Context, cmd *Remember) (Result, error) {
	now := m.now()
	// Validate first: bad input is reported as such before any lookup.
	if _, err := (&domain.Memory{}).Remember(cmd.actor(), cmd.MemoryID, cmd.Spec, now); err != nil {
		return Result{}, err
	}
	scopeID := cmd.Spec.ScopeID
	if cmd.Spec.Scope == "agent" && scopeID == "" {
		scopeID = cmd.Spec.AgentID
	}
	if err := m.authorizeScope(ctx, cmd.actor(), cmd.Spec.Scope, scopeID, cmd.Spec.AgentID); err != nil {
		return Result{}, err
	}
	ch := memoryChange(domain.MemoryStreamID(cmd.MemoryID), domain.StreamTypeMemory, cmd.Spec.Scope, scopeID, cmd.Spec.AgentID, cmd.Envelope)
	ch.alsoInTx = m.embedJob("memory", cmd.MemoryID)
	return execute(ctx, m.repo, ch, newMemory, func(agg *domain.Memory) ([]domain.Event, error) {
		return agg.Remember(cmd.actor(), cmd.MemoryID, cmd.Spec, now)
	})
}

func (m *Memories) Forget(ctx context.Context, cmd *Forget) (Result, error) {
	mem, err := m.repo.LoadMemory(ctx, cmd.MemoryID)
	if err != nil {
		return Result{}, err
	}
	ch := memoryChange(domain.MemoryStreamID(cmd.MemoryID), domain.StreamTypeMemory, mem.Spec.Scope, mem.Spec.ScopeID, mem.Spec.AgentID, cmd.Envelope)
	return execute(ctx, m.repo, ch, newMemory, func(agg *domain.Memory) ([]domain.Event, error) {
		return agg.Forget(cmd.actor(), cmd.Reason)
	})
}

func (m *Memories) RecordEmbedding(ctx context.Context, cmd *RecordEmbedding) (Result, error) {
	if cmd.Kind == "knowledge" {
		return execute(ctx, m.repo, change{streamID: domain.KnowledgeStreamID(cmd.ID), streamType: domain.StreamTypeKnowledge, env: cmd.Envelope},
			newKnowledge, func(agg *domain.Knowledge) ([]domain.Event, error) {
				return agg.RecordEmbedding(cmd.Model, cmd.Dimension)
			})
	}
	return execute(ctx, m.repo, change{streamID: domain.MemoryStreamID(cmd.ID), streamType: domain.StreamTypeMemory, env: cmd.Envelope},
		newMemory, func(agg *domain.Memory) ([]domain.Event, error) {
			return agg.RecordEmbedding(cmd.Model, cmd.Dimension, cmd.Hash)
		})
}

func (m *Memories) AddKnowledge(ctx context.Context, cmd *AddKnowledge) (Result, error) {
	chunkID := func(int) string { return uuid.NewString() }
	if _, err := (&domain.Knowledge{}).Add(cmd.actor(), cmd.DocumentID, cmd.Spec, chunkID); err != nil {
		return Result{}, err
	}
	if err := m.authorizeScope(ctx, cmd.actor(), cmd.Spec.Scope, cmd.Spec.ScopeID, ""); err != nil {
		return Result{}, err
	}
	ch := memoryChange(domain.KnowledgeStreamID(cmd.DocumentID), domain.StreamTypeKnowledge, cmd.Spec.Scope, cmd.Spec.ScopeID, "", cmd.Envelope)
	ch.alsoInTx = m.embedJob("knowledge", cmd.DocumentID)
	return execute(ctx, m.repo, ch, newKnowledge, func(agg *domain.Knowledge) ([]domain.Event, error) {
		return agg.Add(cmd.actor(), cmd.DocumentID, cmd.Spec, chunkID)
	})
}

func (m *Memories) RemoveKnowledge(ctx context.Context, cmd *RemoveKnowledge) (Result, error) {
	return execute(ctx, m.repo, change{streamID: domain.KnowledgeStreamID(cmd.DocumentID), streamType: domain.StreamTypeKnowledge, env: cmd.Envelope},
		newKnowledge, func(agg *domain.Knowledge) ([]domain.Event, error) {
			return agg.Remove(cmd.actor())
		})
}

// LoadMemory rebuilds a memory from its stream.
func (r *Repository) LoadMemory(ctx context.Context, id string) (*domain.Memory, error) {
	mem, _, err := loadAggregate(ctx, r, domain.MemoryStreamID(id), newMemory)
	return mem, err
}

// LoadKnowledge rebuilds a knowledge document from its stream.
func (r *Repository) LoadKnowledge(ctx context.Context, id string) (*domain.Knowledge, error) {
	k, _, err := loadAggregate(ctx, r, domain.KnowledgeStreamID(id), newKnowledge)
	return k, err
}
