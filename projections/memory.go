package projections

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Memory is the projection behind recall: memories and knowledge chunks in memory_items, the
// documents in knowledge_documents. Vectors are copied from embedding_cache, never computed
// here.
type Memory struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewMemory returns the memory projection.
func NewMemory(events *domain.Registry) *Memory { return &Memory{q: dbq.New(), events: events} }

func (*Memory) Name() string     { return "memory" }
func (*Memory) Tables() []string { return []string{"memory_items", "knowledge_documents"} }

func (p *Memory) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeMemory && e.StreamType != domain.StreamTypeKnowledge {
		return nil
	}
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, e.StreamType+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	switch ev := ev.(type) {
	case *domain.MemoryRemembered:
		s := ev.Spec
		expires := sql.NullTime{}
		if s.ExpiresAt != nil {
			expires = sql.NullTime{Time: *s.ExpiresAt, Valid: true}
		}
		return p.q.InsertMemoryItem(ctx, q, dbq.InsertMemoryItemParams{ID: id, Kind: "memory", Scope: s.Scope, ScopeID: s.ScopeID,
			Owner: ev.Owner, AgentID: nullUUID(s.AgentID), Content: s.Content, ContentHash: ev.ContentHash, Tags: nonNil(s.Tags),
			Importance: float32(s.Importance), ExpiresAt: expires, CreatedAt: e.OccurredAt, Version: e.Version, LastPosition: e.Position})
	case *domain.MemoryEmbedded:
		return p.q.SetMemoryEmbedding(ctx, q, dbq.SetMemoryEmbeddingParams{ID: id, Model: ev.Model, Version: e.Version, LastPosition: e.Position})
	case *domain.MemoryForgotten:
		return p.q.DeleteMemoryItem(ctx, q, id)
	case *domain.KnowledgeAdded:
		s := ev.Spec
		if err := p.q.InsertKnowledgeDocument(ctx, q, dbq.InsertKnowledgeDocumentParams{ID: id, Title: s.Title, Format: s.Format,
			Scope: s.Scope, ScopeID: s.ScopeID, Owner: ev.Owner, Chunks: int32(len(ev.Chunks)), Bytes: int32(len(s.Content)),
			CreatedAt: e.OccurredAt, LastPosition: e.Position}); err != nil {
			return err
		}
		for _, c := range ev.Chunks {
			chunk, err := uuid.Parse(c.ID)
			if err != nil {
				return err
			}
			if err := p.q.InsertMemoryItem(ctx, q, dbq.InsertMemoryItemParams{ID: chunk, Kind: "knowledge", Scope: s.Scope, ScopeID: s.ScopeID,
				Owner: ev.Owner, DocumentID: uuid.NullUUID{UUID: id, Valid: true}, ChunkIndex: int32(c.Index),
				Source: domain.ChunkSource(s.Title, c), Content: domain.ChunkText(s.Format, s.Content, c), ContentHash: c.Hash,
				Tags: []string{}, Importance: float32(domain.DefaultMemoryImportance), CreatedAt: e.OccurredAt, Version: e.Version,
				LastPosition: e.Position}); err != nil {
				return err
			}
		}
		return nil
	case *domain.KnowledgeEmbedded:
		return p.q.SetDocumentEmbeddings(ctx, q, dbq.SetDocumentEmbeddingsParams{DocumentID: uuid.NullUUID{UUID: id, Valid: true},
			Model: ev.Model, Version: e.Version, LastPosition: e.Position})
	case *domain.KnowledgeRemoved:
		if err := p.q.DeleteDocumentItems(ctx, q, uuid.NullUUID{UUID: id, Valid: true}); err != nil {
			return err
		}
		return p.q.DeleteKnowledgeDocument(ctx, q, id)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (p *Memory) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.MemoryChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}
