package memory

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/sql/dbq"
)

// Embeddings embeds texts with one model, looking in a bounded in-memory LRU first, then in
// the embedding_cache table (keyed by model and content hash), and only then asking the
// provider, in batches as large as it takes. What the provider returns is stored in both.
type Embeddings struct {
	db       *sql.DB
	q        *dbq.Queries
	embedder llm.Embedder
	lru      *lru.Cache[string, []float32]

	memoryHits, tableHits, computed, calls atomic.Int64
}

// CacheStats counts where embeddings came from since the start.
type CacheStats struct {
	Model      string  `json:"model"`
	Dimension  int     `json:"dimension"`
	MemoryHits int64   `json:"memory_hits"`
	TableHits  int64   `json:"table_hits"`
	Computed   int64   `json:"computed"`
	Calls      int64   `json:"provider_calls"`
	HitRate    float64 `json:"hit_rate"`
}

// NewEmbeddings returns the embedding service; lruSize bounds the in-memory entries.
func NewEmbeddings(db *sql.DB, e llm.Embedder, lruSize int) (*Embeddings, error) {
	if lruSize <= 0 {
		lruSize = 10000
	}
	c, err := lru.New[string, []float32](lruSize)
	if err != nil {
		return nil, err
	}
	return &Embeddings{db: db, q: dbq.New(), embedder: e, lru: c}, nil
}

// Model is the embedding model's name as recorded with each item ("<provider>/<model>").
func (e *Embeddings) Model() string { return e.embedder.Name() + "/" + e.embedder.Model() }

// Dimension is the length of the model's vectors.
func (e *Embeddings) Dimension() int { return e.embedder.Dimension() }

// Stats reports the cache's hits and the provider's work.
func (e *Embeddings) Stats() CacheStats {
	s := CacheStats{Model: e.Model(), Dimension: e.Dimension(), MemoryHits: e.memoryHits.Load(), TableHits: e.tableHits.Load(),
		Computed: e.computed.Load(), Calls: e.calls.Load()}
	if total := s.MemoryHits + s.TableHits + s.Computed; total > 0 {
		s.HitRate = float64(s.MemoryHits+s.TableHits) / float64(total)
	}
	return s
}

// Embed returns one unit vector per text, in order.
func (e *Embeddings) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	hashes := make([]string, len(texts))
	var missing []int
	for i, t := range texts {
		hashes[i] = domain.ContentHash(t)
		if v, ok := e.lru.Get(hashes[i]); ok {
			out[i] = v
			e.memoryHits.Add(1)
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	want := make([]string, 0, len(missing))
	for _, i := range missing {
		want = append(want, hashes[i])
	}
	rows, err := e.q.CachedEmbeddings(ctx, e.db, dbq.CachedEmbeddingsParams{Model: e.Model(), Hashes: want})
	if err != nil {
		return nil, fmt.Errorf("embedding cache: %w", err)
	}
	stored := make(map[string][]float32, len(rows))
	for _, r := range rows {
		if int(r.Dim) == e.Dimension() {
			stored[r.ContentHash] = r.Embedding
		}
	}
	var toCompute []int
	for _, i := range missing {
		if v, ok := stored[hashes[i]]; ok {
			out[i] = v
			e.lru.Add(hashes[i], v)
			e.tableHits.Add(1)
			continue
		}
		toCompute = append(toCompute, i)
	}
	// The same text twice in one call is computed once.
	first := map[string]int{}
	var unique []int
	for _, i := range toCompute {
		if _, seen := first[hashes[i]]; !seen {
			first[hashes[i]] = i
			unique = append(unique, i)
		}
	}
	batch := max(1, e.embedder.MaxBatch())
	for start := 0; start < len(unique); start += batch {
		part := unique[start:min(start+batch, len(unique))]
		in := make([]string, len(part))
		for j, i := range part {
			in[j] = texts[i]
		}
		e.calls.Add(1)
		vecs, err := e.embedder.Embed(ctx, in)
		if err != nil {
			return nil, err
		}
		if len(vecs) != len(in) {
			return nil, fmt.Errorf("embedding: %d vectors for %d texts", len(vecs), len(in))
		}
		for j, i := range part {
			v := vecs[j]
			if err := e.q.PutEmbedding(ctx, e.db, dbq.PutEmbeddingParams{Model: e.Model(), ContentHash: hashes[i], Dim: int32(len(v)), Embedding: v}); err != nil {
				return nil, fmt.Errorf("embedding cache: %w", err)
			}
			e.lru.Add(hashes[i], v)
			out[i] = v
		}
		e.computed.Add(int64(len(part)))
	}
	for _, i := range toCompute {
		if out[i] == nil {
			out[i] = out[first[hashes[i]]]
			e.memoryHits.Add(1)
		}
	}
	return out, nil
}
