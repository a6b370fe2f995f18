package memory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gathering/gathering/domain"
)

// Limits of a query.
const (
	DefaultLimit = 10
	MaxLimit     = 100
	// MaxDimension is the largest embedding pgvector stores (its vector type's limit); HNSW
	// indexes take at most MaxIndexedDimension, larger ones are searched without an index.
	MaxDimension        = 16000
	MaxIndexedDimension = 2000
	// rrfK is the constant of reciprocal rank fusion: score = Σ 1/(rrfK + rank).
	rrfK = 60
	// minHybridCandidates is the least number of hits each list contributes to a fusion.
	minHybridCandidates = 50
)

// plan is a validated query with its defaults filled in.
type plan struct {
	Query
	dim int
	// n is how many hits each ranked list needs: k for one list, the candidates of a fusion.
	n int
}

// validate checks q and returns it with defaults (mode, limit, now); every problem is reported
// at once as a *domain.Error with code invalid.
func validate(q Query) (plan, error) {
	var v domain.Validation
	q.Text = strings.TrimSpace(q.Text)
	if q.Mode == "" {
		switch {
		case len(q.Vector) > 0 && q.Text != "":
			q.Mode = ModeHybrid
		case q.Text != "" && len(q.Vector) == 0:
			q.Mode = ModeText
		default:
			q.Mode = ModeVector
		}
	}
	if q.Owner == "" && q.AgentID == "" {
		v.Add("owner", "an owner or an agent is needed")
	}
	if q.AgentID != "" {
		if _, err := uuid.Parse(q.AgentID); err != nil {
			v.Add("agent_id", "is not a UUID")
		}
	}
	switch q.Mode {
	case ModeVector, ModeText, ModeHybrid:
	default:
		v.Add("mode", "must be vector, text or hybrid (got %q)", q.Mode)
	}
	if q.Mode == ModeVector || q.Mode == ModeHybrid {
		switch {
		case len(q.Vector) == 0:
			v.Add("vector", "is needed in %s mode", q.Mode)
		case len(q.Vector) > MaxDimension:
			v.Add("vector", "has %d dimensions, at most %d are supported", len(q.Vector), MaxDimension)
		default:
			for _, x := range q.Vector {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					v.Add("vector", "has a value that is not a finite number")
					break
				}
			}
		}
		if q.Model == "" {
			v.Add("model", "is needed in %s mode (the model that embedded the query)", q.Mode)
		}
	}
	if (q.Mode == ModeText || q.Mode == ModeHybrid) && q.Text == "" {
		v.Add("text", "is needed in %s mode", q.Mode)
	}
	for _, s := range q.Scopes {
		if !slices.Contains([]string{ScopeGlobal, ScopeCircle, ScopeAgent, ScopeConversation, ScopeProject}, s) {
			v.Add("scopes", "unknown scope %q", s)
		}
	}
	for _, k := range q.Kinds {
		if k != KindMemory && k != KindKnowledge {
			v.Add("kinds", "unknown kind %q", k)
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		v.Add("limit", "must be between 1 and %d (got %d)", MaxLimit, q.Limit)
	}
	if math.IsNaN(q.Threshold) || q.Threshold < 0 || q.Threshold > 1 {
		v.Add("threshold", "must be between 0 and 1")
	}
	if err := v.Err(); err != nil {
		return plan{}, err
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	p := plan{Query: q, n: q.Limit}
	if q.Mode != ModeText {
		p.dim = len(q.Vector)
	}
	if q.Mode == ModeHybrid {
		p.n = max(minHybridCandidates, 4*q.Limit)
	}
	return p, nil
}

// args numbers the parameters of one statement.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// filterSQL is the WHERE clause every search shares: visibility, the caller's filters and
// expiry. It never mentions the vector or the text.
func filterSQL(p plan, a *args) string {
	var w []string
	if p.AgentID != "" {
		ag := a.add(p.AgentID) + "::text"
		w = append(w, "(\n"+
			"    (scope = 'agent' AND scope_id = "+ag+")\n"+
			" OR (scope = 'global' AND owner = (SELECT created_by FROM agents WHERE id = "+ag+"::uuid))\n"+
			" OR (scope = 'circle' AND scope_id IN (SELECT circle_id::text FROM circle_members WHERE agent_id = "+ag+"::uuid))\n"+
			" OR (scope = 'conversation' AND scope_id IN (SELECT id::text FROM conversations\n"+
			"       WHERE participants @> jsonb_build_array(jsonb_build_object('agent_id', "+ag+"))))\n"+
			" OR (scope = 'project' AND scope_id IN (SELECT pc.project_id::text FROM project_circles pc\n"+
			"       JOIN circle_members cm ON cm.circle_id = pc.circle_id WHERE cm.agent_id = "+ag+"::uuid))\n"+
			")")
	} else {
		w = append(w, "owner = "+a.add(p.Owner))
	}
	if len(p.Scopes) > 0 {
		w = append(w, "scope = ANY("+a.add(p.Scopes)+"::text[])")
	}
	if p.ScopeID != "" {
		w = append(w, "scope_id = "+a.add(p.ScopeID))
	}
	if len(p.Kinds) > 0 {
		w = append(w, "kind = ANY("+a.add(p.Kinds)+"::text[])")
	}
	if len(p.Tags) > 0 {
		w = append(w, "tags @> "+a.add(p.Tags)+"::text[]")
	}
	w = append(w, "(expires_at IS NULL OR expires_at > "+a.add(p.Now)+"::timestamptz)")
	return strings.Join(w, "\n  AND ")
}

// vectorFilterSQL keeps the items embedded by the query's model, with its dimension. The
// dimension is a literal (an int): it has to match the partial HNSW indexes' predicates.
func vectorFilterSQL(p plan, a *args) string {
	return "embedding_model = " + a.add(p.Model) + " AND embedding_dim = " + strconv.Itoa(p.dim) + " AND embedding IS NOT NULL"
}

// itemColumns are the columns scanItem reads, in order.
const itemColumns = `id::text, kind, scope, scope_id, owner, coalesce(agent_id::text, ''), coalesce(document_id::text, ''),
       chunk_index, source, content, to_json(tags)::text, importance, expires_at, embedding_model, embedding_dim, created_at`

type scanner interface{ Scan(dest ...any) error }

// scanItem reads itemColumns followed by extra.
func scanItem(s scanner, extra ...any) (Item, error) {
	var (
		it      Item
		tags    string
		expires sql.NullTime
		imp     float64
	)
	dest := append([]any{&it.ID, &it.Kind, &it.Scope, &it.ScopeID, &it.Owner, &it.AgentID, &it.DocumentID,
		&it.ChunkIndex, &it.Source, &it.Content, &tags, &imp, &expires, &it.Model, &it.Dimension, &it.CreatedAt}, extra...)
	if err := s.Scan(dest...); err != nil {
		return Item{}, err
	}
	it.Importance = imp
	if err := json.Unmarshal([]byte(tags), &it.Tags); err != nil {
		return Item{}, fmt.Errorf("memory: tags of %s: %w", it.ID, err)
	}
	if it.Tags == nil {
		it.Tags = []string{}
	}
	if expires.Valid {
		t := expires.Time
		it.ExpiresAt = &t
	}
	return it, nil
}

// execOpts says how the searches' statements are sent. With pgx they are planned on every
// execution with their parameters (unnamed statements whose description pgx caches): the best
// plan depends on them (how much an agent may see decides between the HNSW index and a scan,
// the partial indexes need the dimension), and a prepared statement's generic plan, chosen
// once, would ignore the enable_indexscan = off of the pgvector path's exact fallback.
type execOpts struct{ pgx bool }

func execOptsFor(db *sql.DB) execOpts {
	_, ok := db.Driver().(*stdlib.Driver)
	return execOpts{pgx: ok}
}

func (o execOpts) with(a args) []any {
	if !o.pgx {
		return a
	}
	return append([]any{pgx.QueryExecModeCacheDescribe}, a...)
}

// queryer is what a search runs its statements on: a transaction or a connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// textSQL ranks the items matching the query's words (both paths run it as it is).
func textSQL(p plan) (string, args) {
	var a args
	tsq := a.add(p.Text)
	where := filterSQL(p, &a)
	q := `SELECT ` + itemColumns + `, ts_rank_cd(search_text, tsq) AS rank
FROM memory_items CROSS JOIN websearch_to_tsquery('simple', ` + tsq + `) AS tsq
WHERE search_text @@ tsq
  AND ` + where + `
ORDER BY rank DESC, memory_items.id
LIMIT ` + strconv.Itoa(p.n)
	return q, a
}

// searchText returns the text-ranked hits, best first, with Score and TextRank set.
// runModes runs the vector half (nearest) and the text half of a recall in tx, as the mode asks,
// commits the read-only transaction and combines the halves: both paths share everything but
// the nearest-neighbour search.
func runModes(ctx context.Context, tx *sql.Tx, p plan, o execOpts, nearest func() ([]Hit, error)) ([]Hit, error) {
	var vec, text []Hit
	var err error
	if p.Mode != ModeText {
		if vec, err = nearest(); err != nil {
			return nil, err
		}
	}
	if p.Mode != ModeVector {
		if text, err = searchText(ctx, tx, p, o); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	switch p.Mode {
	case ModeVector:
		return finishVector(p, vec), nil
	case ModeText:
		return text, nil
	default:
		return fuse(p, vec, text), nil
	}
}

func searchText(ctx context.Context, db queryer, p plan, o execOpts) ([]Hit, error) {
	q, a := textSQL(p)
	rows, err := db.QueryContext(ctx, q, o.with(a)...)
	if err != nil {
		return nil, fmt.Errorf("memory: text search: %w", err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var rank float64
		it, err := scanItem(rows, &rank)
		if err != nil {
			return nil, fmt.Errorf("memory: text search: %w", err)
		}
		hits = append(hits, Hit{Item: it, Score: rank, TextRank: rank})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: text search: %w", err)
	}
	return hits, nil
}

// sortBySimilarity orders vector hits best first, ties by id (both paths agree on it).
func sortBySimilarity(hits []Hit) {
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Similarity != hits[j].Similarity {
			return hits[i].Similarity > hits[j].Similarity
		}
		return hits[i].ID < hits[j].ID
	})
}

// aboveThreshold drops the vector hits under the threshold (hits are sorted, so it cuts the tail).
func aboveThreshold(hits []Hit, threshold float64) []Hit {
	if threshold <= 0 {
		return hits
	}
	out := hits[:0]
	for _, h := range hits {
		if h.Similarity >= threshold {
			out = append(out, h)
		}
	}
	return out
}

// finishVector turns the nearest items of a vector search into the answer of a vector query.
func finishVector(p plan, hits []Hit) []Hit {
	sortBySimilarity(hits)
	hits = aboveThreshold(hits, p.Threshold)
	for i := range hits {
		hits[i].Score = hits[i].Similarity
	}
	if len(hits) > p.Limit {
		hits = hits[:p.Limit]
	}
	return hits
}

// fuse merges the vector list (best first, by similarity) and the text list (best first) by
// reciprocal rank fusion. Vector hits under the threshold do not count as vector matches, but
// an item the words found stays (with its similarity, when it is known).
func fuse(p plan, vec, text []Hit) []Hit {
	sortBySimilarity(vec)
	byID := map[string]*Hit{}
	var order []*Hit
	get := func(h Hit) *Hit {
		if x, ok := byID[h.ID]; ok {
			return x
		}
		x := &Hit{Item: h.Item}
		byID[h.ID] = x
		order = append(order, x)
		return x
	}
	rank := 0
	for _, h := range vec {
		if p.Threshold > 0 && h.Similarity < p.Threshold {
			// Known, but not a vector match: kept only if the words find it too.
			continue
		}
		rank++
		x := get(h)
		x.Similarity = h.Similarity
		x.Score += 1.0 / float64(rrfK+rank)
	}
	for i, h := range text {
		x := get(h)
		x.TextRank = h.TextRank
		x.Score += 1.0 / float64(rrfK+i+1)
	}
	// Similarities known from the vector list fill in text-only hits.
	for _, h := range vec {
		if x, ok := byID[h.ID]; ok && x.Similarity == 0 {
			x.Similarity = h.Similarity
		}
	}
	out := make([]Hit, 0, len(order))
	for _, x := range order {
		out = append(out, *x)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].Similarity != out[j].Similarity {
			return out[i].Similarity > out[j].Similarity
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out
}

// unit returns v scaled to unit length (queries are meant to be unit already; this makes the
// exact path's dot product a cosine even when they are a little off).
func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 || math.Abs(s-1) < 1e-12 {
		return v
	}
	n := math.Sqrt(s)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

// RecallAtK is the share of the exact answer's items that the approximate answer found among its
// first len(exact) hits: 1 when it found them all (and when there was nothing to find).
func RecallAtK(exact, approx []Hit) float64 {
	if len(exact) == 0 {
		return 1
	}
	k := len(exact)
	found := make(map[string]bool, k)
	for i, h := range approx {
		if i >= k {
			break
		}
		found[h.ID] = true
	}
	n := 0
	for _, h := range exact {
		if found[h.ID] {
			n++
		}
	}
	return float64(n) / float64(k)
}
