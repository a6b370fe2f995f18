package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/internal/pglite"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/memory"
	"github.com/gathering/gathering/sql/migrations"
)

// memoryItems is 100,000; BENCH_MEMORY_ITEMS overrides it for a quick check of the benchmark
// itself (the recorded figures are at 100,000).
var memoryItems = func() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_MEMORY_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 100000
}()

const (
	memoryDim       = 384
	memoryQueries   = 200
	memoryK         = 10
	memoryRecallMin = 0.95 // recall@10 of the HNSW path against exact search
	memoryOwner     = "bench-owner"
)

// memoryCorpus makes n sentences from a vocabulary, embedded by the offline embedder at 384
// dimensions: texts whose nearest neighbours share words, as memories do.
func memoryCorpus(b *testing.B, n int, seed uint64) ([]string, [][]float32) {
	r := rand.New(rand.NewPCG(seed, 7))
	words := make([]string, 3000)
	for i := range words {
		words[i] = fmt.Sprintf("w%s", strconv.FormatInt(int64(i*7919%100003), 36))
	}
	texts := make([]string, n)
	for i := range texts {
		k := 6 + r.IntN(10)
		parts := make([]string, k)
		for j := range parts {
			// Zipf-like: a few common words, a long tail.
			parts[j] = words[int(float64(len(words))*r.Float64()*r.Float64())]
		}
		texts[i] = strings.Join(parts, " ")
	}
	e, err := llm.NewOfflineEmbedder(memoryDim)
	if err != nil {
		b.Fatal(err)
	}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		b.Fatal(err)
	}
	return texts, vecs
}

// loadMemory bulk-inserts the corpus as global memories of one owner, 1000 rows a statement.
func loadMemory(b *testing.B, db *sql.DB, texts []string, vecs [][]float32) {
	ctx := context.Background()
	const page = 1000
	for start := 0; start < len(texts); start += page {
		end := min(start+page, len(texts))
		var q strings.Builder
		q.WriteString(`INSERT INTO memory_items (id, kind, scope, scope_id, owner, content, content_hash, embedding_model, embedding_dim, embedding, created_at, version, last_position) VALUES `)
		args := make([]any, 0, 4*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(",")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d::uuid, 'memory', 'global', '', '%s', $%d, $%d, 'offline/offline-lexical-384', %d, $%d::real[], now(), 1, %d)",
				n+1, memoryOwner, n+2, n+3, memoryDim, n+4, i+1)
			args = append(args, uuid.NewString(), texts[i], fmt.Sprintf("h%d", i), vectorLiteral(vecs[i]))
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
}

func vectorLiteral(v []float32) string {
	var s strings.Builder
	s.WriteByte('{')
	for i, f := range v {
		if i > 0 {
			s.WriteByte(',')
		}
		s.WriteString(strconv.FormatFloat(float64(f), 'g', 7, 32))
	}
	s.WriteByte('}')
	return s.String()
}

// groundTruth is the exact top k by brute force in Go: the raw baseline of the search paths.
func groundTruth(vecs [][]float32, contents []string, q []float32, k int) []string {
	type cand struct {
		i   int
		sim float64
	}
	best := make([]cand, 0, k+1)
	for i, v := range vecs {
		var dot float64
		for j := range v {
			dot += float64(v[j]) * float64(q[j])
		}
		if len(best) < k || dot > best[len(best)-1].sim {
			best = append(best, cand{i, dot})
			slices.SortFunc(best, func(a, b cand) int {
				if a.sim > b.sim {
					return -1
				}
				if a.sim < b.sim {
					return 1
				}
				return 0
			})
			if len(best) > k {
				best = best[:k]
			}
		}
	}
	out := make([]string, len(best))
	for i, c := range best {
		out[i] = contents[c.i]
	}
	return out
}

func percentileOf(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// recallByContent compares hits by content (ids differ between the two databases).
func recallByContent(hits []memory.Hit, truth []string) float64 {
	want := map[string]int{}
	for _, t := range truth {
		want[t]++
	}
	found := 0
	for _, h := range hits {
		if want[h.Content] > 0 {
			want[h.Content]--
			found++
		}
	}
	return float64(found) / float64(len(truth))
}

// BenchmarkMemoryRecall loads 100,000 memories of 384 dimensions into PGlite with pgvector
// (HNSW path) and into the machine's PostgreSQL (exact path), then runs the same 200 queries
// on both: recall@10 of each against brute force in Go, and p50/p99 latency of each, with the
// exact path and Go's brute force as the baselines measured in the same run.
func BenchmarkMemoryRecall(b *testing.B) {
	ctx := context.Background()
	texts, vecs := memoryCorpus(b, memoryItems, 1)
	queryTexts, queryVecs := memoryCorpus(b, memoryQueries, 2)
	_ = queryTexts

	exactDB := testdb.New(b)
	loadMemory(b, exactDB.SQL, texts, vecs)
	if _, err := exactDB.SQL.Exec("ANALYZE memory_items"); err != nil {
		b.Fatal(err)
	}
	exact, err := memory.NewSearcher(ctx, exactDB.SQL, zerolog.Nop())
	if err != nil || exact.Path() != "exact" {
		b.Fatalf("exact path: %v %v", exact, err)
	}

	srv := pglite.StartServer(b)
	vdb := pglite.Open(b, srv.DSN)
	if _, err := migrations.Up(ctx, vdb); err != nil {
		b.Fatal(err)
	}
	vector, err := memory.NewSearcher(ctx, vdb, zerolog.Nop())
	if err != nil || vector.Path() != "pgvector" {
		b.Fatalf("pgvector path: %v %v", vector, err)
	}
	loaded := time.Now()
	loadMemory(b, vdb, texts, vecs)
	loadTime := time.Since(loaded)
	indexed := time.Now()
	if err := memory.EnsureIndex(ctx, vdb, memoryDim); err != nil {
		b.Fatal(err)
	}
	indexTime := time.Since(indexed)

	var exactLat, vectorLat, bruteLat []time.Duration
	var exactRecall, vectorRecall float64
	b.ResetTimer()
	for i, qv := range queryVecs {
		q := memory.Query{Owner: memoryOwner, Vector: qv, Model: "offline/offline-lexical-384", Mode: memory.ModeVector, Limit: memoryK, Now: time.Now()}
		start := time.Now()
		truth := groundTruth(vecs, texts, qv, memoryK)
		bruteLat = append(bruteLat, time.Since(start))

		start = time.Now()
		eh, err := exact.Search(ctx, q)
		exactLat = append(exactLat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		vh, err := vector.Search(ctx, q)
		vectorLat = append(vectorLat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		exactRecall += recallByContent(eh, truth)
		vectorRecall += recallByContent(vh, truth)
		_ = i
	}
	b.StopTimer()
	exactRecall /= float64(len(queryVecs))
	vectorRecall /= float64(len(queryVecs))

	ep50, ep99 := percentileOf(exactLat, 0.5), percentileOf(exactLat, 0.99)
	vp50, vp99 := percentileOf(vectorLat, 0.5), percentileOf(vectorLat, 0.99)
	bp50 := percentileOf(bruteLat, 0.5)
	b.ReportMetric(vectorRecall, "hnsw-recall@10")
	b.ReportMetric(exactRecall, "exact-recall@10")
	b.ReportMetric(float64(vp50.Microseconds())/1000, "hnsw-p50-ms")
	b.ReportMetric(float64(vp99.Microseconds())/1000, "hnsw-p99-ms")
	b.ReportMetric(float64(ep50.Microseconds())/1000, "exact-p50-ms")
	b.ReportMetric(float64(ep99.Microseconds())/1000, "exact-p99-ms")
	b.Logf("memory recall, %d items × %d dims, %d queries, k=%d (PGlite %s, pgvector %s; PGlite load %v, HNSW build %v)",
		memoryItems, memoryDim, len(queryVecs), memoryK, srv.PostgresVersion, srv.VectorVersion, loadTime.Round(time.Second), indexTime.Round(time.Second))
	b.Logf("  recall@10: HNSW %.4f (target ≥ %.2f), exact %.4f", vectorRecall, memoryRecallMin, exactRecall)
	b.Logf("  HNSW (PGlite)     p50 %v p99 %v", vp50.Round(time.Microsecond), vp99.Round(time.Microsecond))
	b.Logf("  exact (Postgres)  p50 %v p99 %v", ep50.Round(time.Microsecond), ep99.Round(time.Microsecond))
	b.Logf("  brute force in Go p50 %v; exact p50 / Go = %.2f; HNSW p50 / exact p50 = %.2f",
		bp50.Round(time.Microsecond), float64(ep50)/float64(bp50), float64(vp50)/float64(ep50))
	if vectorRecall < memoryRecallMin {
		b.Errorf("HNSW recall@10 %.4f is below the %.2f target", vectorRecall, memoryRecallMin)
	}
	if exactRecall < 0.999 {
		b.Errorf("the exact path's recall@10 is %.4f; it must match brute force", exactRecall)
	}
}

// BenchmarkEmbeddingCache replays a workload in which texts repeat (a Zipf-like mix of 2,000
// texts over 10,000 requests) through the embedding service: the hit rate of the LRU and the
// table, and the provider calls saved.
func BenchmarkEmbeddingCache(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	e, err := llm.NewOfflineEmbedder(memoryDim)
	if err != nil {
		b.Fatal(err)
	}
	emb, err := memory.NewEmbeddings(db.SQL, e, 1000)
	if err != nil {
		b.Fatal(err)
	}
	distinct, _ := memoryCorpus(b, 2000, 3)
	r := rand.New(rand.NewPCG(4, 5))
	b.ResetTimer()
	for range 100 {
		batch := make([]string, 100)
		for j := range batch {
			batch[j] = distinct[int(float64(len(distinct))*r.Float64()*r.Float64())]
		}
		if _, err := emb.Embed(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := emb.Stats()
	b.ReportMetric(st.HitRate, "hit-rate")
	b.Logf("embedding cache: 10000 requests over 2000 distinct texts, LRU of 1000: hit rate %.3f (memory %d, table %d, computed %d in %d provider calls)",
		st.HitRate, st.MemoryHits, st.TableHits, st.Computed, st.Calls)
}
