// Package memory is the long-term memory and knowledge base of agents: recall by meaning over
// the memory_items read model, on pgvector's HNSW index where the server has the extension and
// by exact search where it does not, plus the embedding cache, document chunking and the
// context a turn is given.
package memory

import (
	"context"
	"time"
)

// Scopes say who shares an item (the design document's memory scopes, plus project).
const (
	ScopeGlobal       = "global"       // every agent of the item's owner
	ScopeCircle       = "circle"       // the members of circle scope_id
	ScopeAgent        = "agent"        // agent scope_id alone
	ScopeConversation = "conversation" // the participants of conversation scope_id
	ScopeProject      = "project"      // members of the circles linked to project scope_id
)

// Kinds of items.
const (
	KindMemory    = "memory"
	KindKnowledge = "knowledge"
)

// Search modes.
const (
	ModeVector = "vector" // cosine similarity of embeddings
	ModeText   = "text"   // PostgreSQL full-text ranking
	ModeHybrid = "hybrid" // both, fused by reciprocal rank
)

// Item is one row of memory_items.
type Item struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Scope      string     `json:"scope"`
	ScopeID    string     `json:"scope_id,omitempty"`
	Owner      string     `json:"owner"`
	AgentID    string     `json:"agent_id,omitempty"`
	DocumentID string     `json:"document_id,omitempty"`
	ChunkIndex int        `json:"chunk_index,omitempty"`
	Source     string     `json:"source,omitempty"`
	Content    string     `json:"content"`
	Tags       []string   `json:"tags"`
	Importance float64    `json:"importance"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Model      string     `json:"embedding_model,omitempty"`
	Dimension  int        `json:"embedding_dim,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Query is a recall. Visibility is part of the query itself: with AgentID set, only what that
// agent may see (its own agent-scoped items, its owner's global items, the circles it is a
// member of, the conversations it takes part in, the projects linked to its circles); without
// it, everything Owner owns. An empty Owner with no AgentID is refused.
type Query struct {
	Owner   string
	AgentID string
	// Vector is the query's embedding (unit length) by Model; needed for vector and hybrid.
	Vector []float32
	Model  string
	// Text is the query's words; needed for text and hybrid.
	Text string
	Mode string
	// Filters; empty means no filter.
	Scopes  []string
	ScopeID string
	Kinds   []string
	Tags    []string // items having all of them
	// Limit is k (1..100); Threshold drops vector hits below that cosine similarity (0..1).
	Limit     int
	Threshold float64
	// Now decides expiry (items whose expires_at is before Now are never returned).
	Now time.Time
}

// Hit is an item found with its scores.
type Hit struct {
	Item
	// Score orders the hits: the similarity in vector mode, the text rank in text mode, the
	// fused reciprocal-rank score in hybrid mode.
	Score      float64 `json:"score"`
	Similarity float64 `json:"similarity,omitempty"`
	TextRank   float64 `json:"text_rank,omitempty"`
}

// Searcher runs recalls. Both implementations answer the same queries with the same hits
// (up to the approximation of the HNSW index), which one contract test suite checks.
type Searcher interface {
	Search(ctx context.Context, q Query) ([]Hit, error)
	// Path names the implementation: "pgvector" or "exact".
	Path() string
}
