package memory

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/sql/dbq"
)

// Items reads the memory read model outside of recall: one item, the documents, the counts.
type Items struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewItems returns the item queries on db.
func NewItems(db *sql.DB) *Items { return &Items{db: db, q: dbq.New()} }

// Get returns one item.
func (it *Items) Get(ctx context.Context, id string) (Item, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return Item{}, domain.Errorf(domain.CodeNotFound, "memory %s not found", id)
	}
	r, err := it.q.GetMemoryItem(ctx, it.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, domain.Errorf(domain.CodeNotFound, "memory %s not found", id)
	}
	if err != nil {
		return Item{}, err
	}
	item := Item{ID: r.ID.String(), Kind: r.Kind, Scope: r.Scope, ScopeID: r.ScopeID, Owner: r.Owner, ChunkIndex: int(r.ChunkIndex),
		Source: r.Source, Content: r.Content, Tags: r.Tags, Importance: float64(r.Importance), Model: r.EmbeddingModel,
		Dimension: int(r.EmbeddingDim), CreatedAt: r.CreatedAt.UTC()}
	if r.AgentID.Valid {
		item.AgentID = r.AgentID.UUID.String()
	}
	if r.DocumentID.Valid {
		item.DocumentID = r.DocumentID.UUID.String()
	}
	if r.ExpiresAt.Valid {
		t := r.ExpiresAt.Time.UTC()
		item.ExpiresAt = &t
	}
	if item.Tags == nil {
		item.Tags = []string{}
	}
	return item, nil
}

// Document is a knowledge document as listed.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Format    string    `json:"format"`
	Scope     string    `json:"scope"`
	ScopeID   string    `json:"scope_id,omitempty"`
	Owner     string    `json:"owner"`
	Chunks    int       `json:"chunks"`
	Bytes     int       `json:"bytes"`
	CreatedAt time.Time `json:"created_at"`
}

// Documents lists knowledge documents, newest first; empty filters do not filter.
func (it *Items) Documents(ctx context.Context, owner, scope string, limit int) ([]Document, error) {
	rows, err := it.q.ListKnowledgeDocuments(ctx, it.db, dbq.ListKnowledgeDocumentsParams{Owner: optionalText(owner), Scope: optionalText(scope), MaxRows: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(rows))
	for _, r := range rows {
		out = append(out, documentView(r))
	}
	return out, nil
}

// Document returns one knowledge document.
func (it *Items) Document(ctx context.Context, id string) (Document, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return Document{}, domain.Errorf(domain.CodeNotFound, "document %s not found", id)
	}
	r, err := it.q.GetKnowledgeDocument(ctx, it.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, domain.Errorf(domain.CodeNotFound, "document %s not found", id)
	}
	if err != nil {
		return Document{}, err
	}
	return documentView(r), nil
}

func documentView(r dbq.KnowledgeDocument) Document {
	return Document{ID: r.ID.String(), Title: r.Title, Format: r.Format, Scope: r.Scope, ScopeID: r.ScopeID, Owner: r.Owner,
		Chunks: int(r.Chunks), Bytes: int(r.Bytes), CreatedAt: r.CreatedAt.UTC()}
}

// Count is how many items of a kind and scope one model embedded (model "" : not yet).
type Count struct {
	Kind        string `json:"kind"`
	Scope       string `json:"scope"`
	Model       string `json:"embedding_model"`
	Dimension   int    `json:"embedding_dim"`
	Items       int64  `json:"items"`
	NotEmbedded int64  `json:"not_embedded"`
}

// Counts groups the owner's items (everyone's for owner "") by kind, scope and model.
func (it *Items) Counts(ctx context.Context, owner string) ([]Count, error) {
	rows, err := it.q.MemoryStats(ctx, it.db, optionalText(owner))
	if err != nil {
		return nil, err
	}
	out := make([]Count, 0, len(rows))
	for _, r := range rows {
		out = append(out, Count{Kind: r.Kind, Scope: r.Scope, Model: r.EmbeddingModel, Dimension: int(r.EmbeddingDim), Items: r.Items, NotEmbedded: r.NotEmbedded})
	}
	return out, nil
}

func optionalText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
