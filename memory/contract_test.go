package memory_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/pglite"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/memory"
	"github.com/gathering/gathering/sql/migrations"
)

// The same contract runs on both paths: the exact searcher on the machine's PostgreSQL (which
// has no pgvector) and the pgvector searcher on PGlite (PostgreSQL in WASM with pgvector).
// Expected answers come from a reference written here in Go: visibility, filters and cosine
// similarity computed from the fixture itself.

func TestContractPostgres(t *testing.T) {
	db := testdb.New(t).SQL
	ctx := context.Background()
	var available int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").Scan(&available); err != nil {
		t.Fatal(err)
	}
	s, err := memory.NewSearcher(ctx, db, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	want := "exact"
	if available > 0 {
		want = "pgvector" // a server with pgvector installed takes the index path
	}
	if s.Path() != want {
		t.Fatalf("NewSearcher chose %q on this server, want %q", s.Path(), want)
	}
	t.Run("exact", func(t *testing.T) { runContract(t, db, memory.NewExact(db)) })
	t.Run("exact-sql", func(t *testing.T) { runContract(t, db, memory.NewExactSQL(db)) })
}

func TestContractPGlite(t *testing.T) {
	srv := pglite.StartServer(t)
	t.Logf("PGlite %s, pgvector %s, ready in %v", srv.PostgresVersion, srv.VectorVersion, srv.Startup)
	db := pglite.Open(t, srv.DSN)
	ctx := context.Background()
	began := time.Now()
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrations on PGlite: %v", err)
	}
	t.Logf("migrations applied in %v", time.Since(began))

	var logged strings.Builder
	s, err := memory.NewSearcher(ctx, db, zerolog.New(&logged))
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != "pgvector" {
		t.Fatalf("NewSearcher chose %q on PGlite, want pgvector; log: %s", s.Path(), logged.String())
	}
	if !strings.Contains(logged.String(), "memory search: pgvector "+srv.VectorVersion) || strings.Count(logged.String(), "\n") != 1 {
		t.Fatalf("want one line naming pgvector %s, logged %q", srv.VectorVersion, logged.String())
	}
	pv := s.(*memory.PGVector)
	if on, err := memory.EnableVector(ctx, db); !on || err != nil {
		t.Fatalf("EnableVector a second time: %v, %v", on, err)
	}

	t.Run("pgvector", func(t *testing.T) { runContract(t, db, s) })
	if n := memory.Exhausted(pv); n != 0 {
		t.Errorf("%d searches needed the exact fallback: iterative index scans did not return k rows", n)
	}
	t.Run("pgvector through the index", func(t *testing.T) {
		// The fixture is small enough that the planner mostly sorts it; without sorts every
		// vector query goes through the HNSW indexes (PGlite is one session, so the setting
		// reaches the searcher).
		if _, err := db.ExecContext(ctx, "SET enable_sort = off"); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = db.ExecContext(ctx, "RESET enable_sort") }()
		runContract(t, db, s)
	})
	if n := memory.Exhausted(pv); n != 0 {
		t.Errorf("%d searches through the index needed the exact fallback", n)
	}
	t.Run("exact", func(t *testing.T) { runContract(t, db, memory.NewExact(db)) })

	t.Run("paths agree", func(t *testing.T) {
		ex := memory.NewExact(db)
		both := func(q memory.Query) (approx, exact []memory.Hit) {
			a, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ex.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return a, b
		}
		for _, q := range smallQueries() {
			if a, b := both(q); !sameHits(a, b) {
				t.Errorf("%s: pgvector %s, exact %s", describe(q), hitList(a), hitList(b))
			}
		}
		var sum float64
		for _, q := range bulkQueries() {
			a, b := both(q)
			r := memory.RecallAtK(b, a)
			sum += r
			if r < 0.9 || len(a) != len(b) {
				t.Errorf("%s: recall@%d %v: pgvector %s, exact %s", describe(q), len(b), r, hitList(a), hitList(b))
			}
			for _, h := range a {
				for _, x := range b {
					if x.ID == h.ID && math.Abs(x.Similarity-h.Similarity) > 1e-5 {
						t.Errorf("%s: similarity of %s: pgvector %v, exact %v", describe(q), h.ID, h.Similarity, x.Similarity)
					}
				}
			}
		}
		t.Logf("mean recall@10 of pgvector against exact over %d queries of the 500: %.3f", len(bulkQueries()), sum/float64(len(bulkQueries())))
	})

	t.Run("iterative index scan", func(t *testing.T) {
		prepare(t, db, s)
		// 500 rows are few enough that the planner sorts them rather than use the index; with
		// sorts disabled (PGlite is one session: the setting holds for the searcher too) the
		// filtered query has to go through HNSW.
		for _, st := range []string{"ANALYZE memory_items", "SET enable_sort = off"} {
			if _, err := db.ExecContext(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		defer func() { _, _ = db.ExecContext(ctx, "RESET enable_sort") }()
		q := bulkQuery()
		stmt, a, err := memory.NearestSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		count := func(explain bool, set ...string) (int, string) {
			t.Helper()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			for _, st := range set {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					t.Fatal(err)
				}
			}
			query := "/* test */ " + stmt // never the searcher's cached statement
			if explain {
				query = "EXPLAIN " + stmt
			}
			rows, err := tx.QueryContext(ctx, query, a...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			var plan strings.Builder
			for rows.Next() {
				n++
				if explain {
					var line string
					if err := rows.Scan(&line); err != nil {
						t.Fatal(err)
					}
					plan.WriteString(line + "\n")
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return n, plan.String()
		}
		if _, plan := count(true, "SET LOCAL hnsw.iterative_scan = relaxed_order"); !strings.Contains(plan, "Index Scan using memory_items_hnsw_16") {
			t.Fatalf("the filtered vector query does not use the HNSW index:\n%s", plan)
		}
		plain, _ := count(false, "SET LOCAL hnsw.iterative_scan = off", "SET LOCAL hnsw.ef_search = 40")
		iterative, _ := count(false, "SET LOCAL hnsw.iterative_scan = relaxed_order", "SET LOCAL hnsw.ef_search = 40")
		t.Logf("D sees 1 in 10 of 500: without iterative scans the index gives %d of 10 rows, with them %d", plain, iterative)
		if plain >= 10 || iterative != 10 {
			t.Fatalf("index scan without iterative scans: %d rows, with: %d; want fewer than 10, then 10", plain, iterative)
		}
		before := memory.Exhausted(pv)
		hits, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 10 || memory.Exhausted(pv) != before {
			t.Fatalf("searcher: %d hits, exact fallbacks %d", len(hits), memory.Exhausted(pv)-before)
		}
		if r := memory.RecallAtK(refHits(reference(q)), hits); r < 0.9 {
			t.Fatalf("recall@10 through the index = %v", r)
		}

		// When the scan may not read the whole index (here about 50 rows of 500), a short
		// answer is made up by an exact scan: D's 50, in order, for a limit of 100.
		if _, err := db.ExecContext(ctx, "SET hnsw.max_scan_tuples = 50"); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = db.ExecContext(ctx, "RESET hnsw.max_scan_tuples") }()
		q.Limit = 100
		before = memory.Exhausted(pv)
		if hits, err = s.Search(ctx, q); err != nil {
			t.Fatal(err)
		}
		want := reference(q)
		if len(hits) != 50 || len(want) != 50 || memory.Exhausted(pv) != before+1 {
			t.Fatalf("capped scan: %d hits (reference %d), %d fallbacks", len(hits), len(want), memory.Exhausted(pv)-before)
		}
		for i := range hits {
			if hits[i].ID != want[i].id || math.Abs(hits[i].Similarity-want[i].sim) > 1e-5 {
				t.Fatalf("capped scan, hit %d: %s, want %v", i, hitList(hits), want)
			}
		}
	})
}

// ---- fixture ----

const (
	userA, userB, userC = "user-a", "user-b", "user-c"
	model8, model16     = "m8", "m16"
)

var (
	now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	// Agents: A1 and A2 belong to user A, B1 to user B; D and E (the bulk set) to user C.
	agentA1 = "a1000000-0000-4000-8000-000000000001"
	agentA2 = "a2000000-0000-4000-8000-000000000002"
	agentB1 = "b1000000-0000-4000-8000-000000000003"
	agentD  = "d0000000-0000-4000-8000-000000000004"
	agentE  = "e0000000-0000-4000-8000-000000000005"
	circle1 = "c1000000-0000-4000-8000-000000000001" // A1
	circle2 = "c2000000-0000-4000-8000-000000000002" // A2
	conv1   = "f1000000-0000-4000-8000-000000000001" // A1, A2
	conv2   = "f2000000-0000-4000-8000-000000000002" // A2, B1
	proj1   = "91000000-0000-4000-8000-000000000001" // linked to circle 1
	proj2   = "92000000-0000-4000-8000-000000000002" // linked to circle 2
)

type world struct {
	agentOwner map[string]string
	circles    map[string][]string // circle → member agents
	convs      map[string][]string // conversation → participants
	projects   map[string][]string // project → circles
}

var fx = world{
	agentOwner: map[string]string{agentA1: userA, agentA2: userA, agentB1: userB, agentD: userC, agentE: userC},
	circles:    map[string][]string{circle1: {agentA1}, circle2: {agentA2}},
	convs:      map[string][]string{conv1: {agentA1, agentA2}, conv2: {agentA2, agentB1}},
	projects:   map[string][]string{proj1: {circle1}, proj2: {circle2}},
}

type fxItem struct {
	n       int
	kind    string
	scope   string
	scopeID string
	owner   string
	content string
	tags    []string
	expires *time.Time
	model   string
	vec     []float32 // nil: not embedded
}

func (it fxItem) id() string { return itemID(it.n) }

func itemID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// near is a unit vector of dim 8 whose cosine similarity with e0 (the query) is sim.
func near(sim float64, axis int) []float32 {
	v := make([]float32, 8)
	v[0] = float32(sim)
	v[axis] = float32(math.Sqrt(1 - sim*sim))
	return v
}

var (
	e0      = near(1, 1)
	hourAgo = now.Add(-time.Hour)
	inHour  = now.Add(time.Hour)
)

// smallItems are hand-made: the items an agent must not see are the nearest to e0.
func smallItems() []fxItem {
	m := func(n int, scope, scopeID, owner string, sim float64, content string) fxItem {
		return fxItem{n: n, kind: memory.KindMemory, scope: scope, scopeID: scopeID, owner: owner, content: content,
			tags: []string{}, model: model8, vec: near(sim, 1+n%7)}
	}
	items := []fxItem{
		m(1, memory.ScopeAgent, agentA1, userA, 0.90, "apple pie recipe"),
		m(2, memory.ScopeAgent, agentA2, userA, 0.99, "apple secret of agent two"),
		m(3, memory.ScopeGlobal, "", userA, 0.80, "global note about the apple apple orchard"),
		m(4, memory.ScopeGlobal, "", userB, 0.98, "user b global apple"),
		m(5, memory.ScopeCircle, circle1, userA, 0.70, "circle one handbook"),
		m(6, memory.ScopeCircle, circle2, userA, 0.97, "circle two handbook"),
		m(7, memory.ScopeConversation, conv1, userA, 0.60, "conversation one summary"),
		m(8, memory.ScopeConversation, conv2, userB, 0.96, "conversation two summary"),
		m(9, memory.ScopeProject, proj1, userA, 0.50, "project one readme"),
		m(10, memory.ScopeProject, proj2, userA, 0.95, "project two readme"),
		m(11, memory.ScopeAgent, agentA1, userA, 0.94, "expired apple"),
		m(12, memory.ScopeAgent, agentA1, userA, 0.40, "expires later"),
		m(13, memory.ScopeAgent, agentA1, userA, 0.93, "zebra crossing"),
		m(14, memory.ScopeAgent, agentA1, userA, 0, "small vector"),
		m(15, memory.ScopeAgent, agentA1, userA, 0, "pending apple"),
		m(16, memory.ScopeAgent, agentA1, userA, 0.92, "zebra near"),
		m(23, memory.ScopeCircle, circle1, userB, 0.35, "circle one note from user b"),
	}
	for i := range items {
		it := &items[i]
		switch it.n {
		case 1:
			it.tags = []string{"food", "sweet"}
		case 3:
			it.tags = []string{"food"}
		case 5, 9:
			it.kind = memory.KindKnowledge
			it.tags = []string{"doc"}
			if it.n == 9 {
				it.tags = []string{"doc", "sweet"}
			}
		case 11:
			it.expires = &hourAgo
		case 12:
			it.expires = &inHour
		case 13:
			it.model = "other" // same dimension, another model: found by its words only
		case 14:
			it.vec = []float32{1, 0, 0, 0} // the model's 4-dimension variant
		case 15:
			it.model, it.vec = "", nil // not embedded yet
		}
	}
	for i, sim := range []float64{0.3, 0.2, 0.1, 0.05, -0.1, -0.2} {
		items = append(items, m(17+i, memory.ScopeAgent, agentA1, userA, sim, fmt.Sprintf("filler %d", i)))
	}
	return items
}

// bulkItems: 500 random vectors of dim 16 for user C, one in ten D's (agent scope), the rest E's.
func bulkItems() []fxItem {
	r := rand.New(rand.NewPCG(7, 11))
	var items []fxItem
	for i := 0; i < 500; i++ {
		scopeID := agentE
		if i%10 == 0 {
			scopeID = agentD
		}
		items = append(items, fxItem{n: 1000 + i, kind: memory.KindMemory, scope: memory.ScopeAgent, scopeID: scopeID,
			owner: userC, content: fmt.Sprintf("bulk item %d", i), tags: []string{}, model: model16, vec: randomUnit(r, 16)})
	}
	return items
}

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float64, dim)
	var s float64
	for i := range v {
		v[i] = r.NormFloat64()
		s += v[i] * v[i]
	}
	out := make([]float32, dim)
	for i := range v {
		out[i] = float32(v[i] / math.Sqrt(s))
	}
	return out
}

func bulkQuery() memory.Query {
	return memory.Query{AgentID: agentD, Model: model16, Vector: randomUnit(rand.New(rand.NewPCG(1, 2)), 16), Mode: memory.ModeVector,
		Limit: 10, Now: now}
}

func allItems() []fxItem { return append(smallItems(), bulkItems()...) }

func loadFixture(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("fixture: %v\n%s", err, q)
		}
	}
	for id, owner := range fx.agentOwner {
		exec(`INSERT INTO agents (id, name, role, provider, model, personality, system_prompt, tools, version, created_at, updated_at,
			last_position, created_by) VALUES ($1, $2, 'r', 'offline', 'm', '{}', '', '[]', 1, $3, $3, 1, $4) ON CONFLICT DO NOTHING`,
			id, "agent "+id[:2], now, owner)
	}
	for c, members := range fx.circles {
		for _, a := range members {
			exec(`INSERT INTO circle_members (circle_id, agent_id, role, competencies, joined_at) VALUES ($1, $2, 'member', '[]', $3)
				ON CONFLICT DO NOTHING`, c, a, now)
		}
	}
	for c, ps := range fx.convs {
		var parts []string
		for _, a := range ps {
			parts = append(parts, fmt.Sprintf(`{"agent_id": %q, "name": "n%s"}`, a, a[:2]))
		}
		exec(`INSERT INTO conversations (id, circle_id, owner, topic, strategy, participants, status, turns_taken, max_turns, posts,
			end_reason, end_detail, version, created_at, updated_at, last_position)
			VALUES ($1, $2, $3, 't', 'round_robin', $4::jsonb, 'active', 0, 10, 0, '', '', 1, $5, $5, 1) ON CONFLICT DO NOTHING`,
			c, circle1, userA, "["+strings.Join(parts, ",")+"]", now)
	}
	for p, cs := range fx.projects {
		for _, c := range cs {
			exec(`INSERT INTO project_circles (project_id, circle_id, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, p, c, now)
		}
	}
	for _, it := range allItems() {
		var agent any
		if it.scope == memory.ScopeAgent {
			agent = it.scopeID
		}
		var vec any
		if it.vec != nil {
			vec = it.vec
		}
		var expires any
		if it.expires != nil {
			expires = *it.expires
		}
		exec(`INSERT INTO memory_items (id, kind, scope, scope_id, owner, agent_id, content, content_hash, tags, importance, expires_at,
			embedding_model, embedding_dim, embedding, created_at, version, last_position)
			VALUES ($1, $2, $3, $4, $5, $6::uuid, $7, md5($7), $8::text[], 0.5, $9::timestamptz, $10, $11, $12::real[], $13, 1, 1)
			ON CONFLICT (id) DO NOTHING`,
			it.id(), it.kind, it.scope, it.scopeID, it.owner, agent, it.content, it.tags, expires, it.model, len(it.vec), vec, now)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// ---- reference ----

func (w world) visible(it fxItem, q memory.Query) bool {
	if q.AgentID == "" {
		return it.owner == q.Owner
	}
	a := q.AgentID
	switch it.scope {
	case memory.ScopeAgent:
		return it.scopeID == a
	case memory.ScopeGlobal:
		return it.owner == w.agentOwner[a]
	case memory.ScopeCircle:
		return slices.Contains(w.circles[it.scopeID], a)
	case memory.ScopeConversation:
		return slices.Contains(w.convs[it.scopeID], a)
	case memory.ScopeProject:
		for _, c := range w.projects[it.scopeID] {
			if slices.Contains(w.circles[c], a) {
				return true
			}
		}
	}
	return false
}

func passes(it fxItem, q memory.Query) bool {
	if !fx.visible(it, q) {
		return false
	}
	if len(q.Scopes) > 0 && !slices.Contains(q.Scopes, it.scope) {
		return false
	}
	if q.ScopeID != "" && it.scopeID != q.ScopeID {
		return false
	}
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, it.kind) {
		return false
	}
	for _, tg := range q.Tags {
		if !slices.Contains(it.tags, tg) {
			return false
		}
	}
	return it.expires == nil || it.expires.After(q.Now)
}

type refHit struct {
	id  string
	sim float64
}

// reference answers a vector query from the fixture.
func reference(q memory.Query) []refHit {
	var out []refHit
	for _, it := range allItems() {
		if !passes(it, q) || it.vec == nil || it.model != q.Model || len(it.vec) != len(q.Vector) {
			continue
		}
		out = append(out, refHit{it.id(), cosine(it.vec, q.Vector)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].sim != out[j].sim {
			return out[i].sim > out[j].sim
		}
		return out[i].id < out[j].id
	})
	kept := out[:0]
	for _, h := range out {
		if q.Threshold == 0 || h.sim >= q.Threshold { // 0: no threshold
			kept = append(kept, h)
		}
	}
	limit := q.Limit
	if limit == 0 {
		limit = memory.DefaultLimit
	}
	if len(kept) > limit {
		kept = kept[:limit]
	}
	return kept
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// ---- the contract ----

// prepare loads the fixture (once per database) and, on the pgvector path, makes sure of the
// HNSW indexes of its dimensions, as the embedding job does when a model is first used.
func prepare(t *testing.T, db *sql.DB, s memory.Searcher) {
	t.Helper()
	loadFixture(t, db)
	if s.Path() == "pgvector" {
		for _, d := range []int{4, 8, 16} {
			if err := memory.EnsureIndex(context.Background(), db, d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func runContract(t *testing.T, db *sql.DB, s memory.Searcher) {
	ctx := context.Background()
	prepare(t, db, s)
	search := func(t *testing.T, q memory.Query) []memory.Hit {
		t.Helper()
		hits, err := s.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", describe(q), err)
		}
		return hits
	}
	vq := func(agent, owner string) memory.Query {
		return memory.Query{AgentID: agent, Owner: owner, Vector: e0, Model: model8, Mode: memory.ModeVector, Limit: 100, Now: now}
	}
	checkRef := func(t *testing.T, q memory.Query) []memory.Hit {
		t.Helper()
		hits := search(t, q)
		want := reference(q)
		ok := len(hits) == len(want)
		for i := 0; ok && i < len(hits); i++ {
			ok = hits[i].ID == want[i].id && math.Abs(hits[i].Similarity-want[i].sim) < 1e-5 && hits[i].Score == hits[i].Similarity
		}
		if !ok {
			t.Fatalf("%s:\n got %s\nwant %v", describe(q), hitList(hits), want)
		}
		return hits
	}

	t.Run("nearest first for each viewer", func(t *testing.T) {
		for _, a := range []string{agentA1, agentA2, agentB1} {
			checkRef(t, vq(a, ""))
		}
		for _, o := range []string{userA, userB} {
			checkRef(t, vq("", o))
		}
		hits := checkRef(t, vq(agentA1, ""))
		if got := ids(hits); !slices.Equal(got[:4], []int{16, 1, 3, 5}) {
			t.Fatalf("A1's nearest: %v", got)
		}
		// The item fields come back whole.
		h := hits[1]
		if h.Kind != memory.KindMemory || h.Scope != memory.ScopeAgent || h.ScopeID != agentA1 || h.Owner != userA ||
			h.AgentID != agentA1 || h.Content != "apple pie recipe" || !slices.Equal(h.Tags, []string{"food", "sweet"}) ||
			h.Model != model8 || h.Dimension != 8 || !h.CreatedAt.Equal(now) || h.ExpiresAt != nil || h.Importance != 0.5 {
			t.Fatalf("item read back as %+v", h.Item)
		}
		if h12 := findHit(hits, 12); h12 == nil || h12.ExpiresAt == nil || !h12.ExpiresAt.Equal(inHour) {
			t.Fatalf("item 12's expiry read back as %+v", h12)
		}
	})

	t.Run("isolation", func(t *testing.T) {
		cases := []struct {
			agent         string
			sees, notSees []int
		}{
			// A1 never sees A2's private memory (2), user B's global (4), circle 2 (6), conversation 2 (8),
			// project 2 (10); it sees its circle's items whoever owns them (23).
			{agentA1, []int{1, 3, 5, 7, 9, 12, 16, 23}, []int{2, 4, 6, 8, 10}},
			{agentA2, []int{2, 3, 6, 7, 8, 10}, []int{1, 4, 5, 9, 16, 23}},
			{agentB1, []int{4, 8}, []int{1, 2, 3, 5, 6, 7, 9, 10, 23}},
			{agentD, nil, []int{1, 2, 3, 4}},
		}
		for _, c := range cases {
			got := ids(search(t, vq(c.agent, "")))
			for _, n := range c.sees {
				if !slices.Contains(got, n) {
					t.Errorf("agent %s does not see item %d (got %v)", c.agent[:2], n, got)
				}
			}
			for _, n := range c.notSees {
				if slices.Contains(got, n) {
					t.Errorf("agent %s sees item %d (got %v)", c.agent[:2], n, got)
				}
			}
		}
		// The owner's own view is everything it owns, whatever the scope.
		got := ids(search(t, vq("", userA)))
		for _, n := range []int{1, 2, 3, 5, 6, 7, 9, 10, 16} {
			if !slices.Contains(got, n) {
				t.Errorf("owner A does not see item %d", n)
			}
		}
		for _, n := range []int{4, 8, 23} {
			if slices.Contains(got, n) {
				t.Errorf("owner A sees item %d of owner B", n)
			}
		}
		// An unknown agent sees nothing.
		if hits := search(t, vq("00000000-0000-4000-8000-999999999999", "")); len(hits) != 0 {
			t.Errorf("an unknown agent sees %s", hitList(hits))
		}
	})

	t.Run("threshold", func(t *testing.T) {
		q := vq(agentA1, "")
		q.Threshold = 0.65
		hits := checkRef(t, q)
		if got := ids(hits); !slices.Equal(got, []int{16, 1, 3, 5}) {
			t.Fatalf("threshold 0.65: %v", got)
		}
		q.Threshold = 1
		if hits := search(t, q); len(hits) != 0 {
			t.Fatalf("threshold 1: %s", hitList(hits))
		}
	})

	t.Run("limit", func(t *testing.T) {
		q := vq(agentA1, "")
		q.Limit = 3
		if got := ids(checkRef(t, q)); !slices.Equal(got, []int{16, 1, 3}) {
			t.Fatalf("limit 3: %v", got)
		}
		q.Limit = 0 // the default
		if hits := checkRef(t, q); len(hits) != memory.DefaultLimit {
			t.Fatalf("default limit: %d hits", len(hits))
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, f := range []func(*memory.Query){
			func(q *memory.Query) { q.Tags = []string{"food"} },
			func(q *memory.Query) { q.Tags = []string{"food", "sweet"} },
			func(q *memory.Query) { q.Tags = []string{"sweet"}; q.Kinds = []string{memory.KindKnowledge} },
			func(q *memory.Query) { q.Scopes = []string{memory.ScopeCircle, memory.ScopeProject} },
			func(q *memory.Query) { q.Scopes = []string{memory.ScopeCircle}; q.ScopeID = circle1 },
			func(q *memory.Query) { q.Kinds = []string{memory.KindMemory} },
			func(q *memory.Query) { q.Tags = []string{"no-such-tag"} },
		} {
			q := vq(agentA1, "")
			f(&q)
			checkRef(t, q)
		}
		q := vq(agentA1, "")
		q.Tags = []string{"food", "sweet"}
		if got := ids(search(t, q)); !slices.Equal(got, []int{1}) {
			t.Fatalf("tags food+sweet: %v", got)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		q := vq(agentA1, "")
		got := ids(checkRef(t, q))
		if slices.Contains(got, 11) || !slices.Contains(got, 12) {
			t.Fatalf("at now: %v (11 expired an hour ago, 12 expires in an hour)", got)
		}
		q.Now = now.Add(2 * time.Hour)
		if got := ids(checkRef(t, q)); slices.Contains(got, 12) {
			t.Fatalf("two hours later item 12 is still found: %v", got)
		}
		q.Now = now.Add(-2 * time.Hour)
		if got := ids(checkRef(t, q)); !slices.Contains(got, 11) {
			t.Fatalf("two hours earlier item 11 is not found: %v", got)
		}
	})

	t.Run("model and dimension", func(t *testing.T) {
		got := ids(search(t, vq(agentA1, "")))
		for _, n := range []int{13, 14, 15} {
			if slices.Contains(got, n) {
				t.Fatalf("item %d (other model, other dimension, not embedded) is found: %v", n, got)
			}
		}
		q := vq(agentA1, "")
		q.Vector = []float32{0.6, 0.8, 0, 0}
		if got := ids(checkRef(t, q)); !slices.Equal(got, []int{14}) {
			t.Fatalf("dimension 4: %v", got)
		}
		q = vq(agentA1, "")
		q.Model = "other"
		if got := ids(checkRef(t, q)); !slices.Equal(got, []int{13}) {
			t.Fatalf("model other: %v", got)
		}
	})

	t.Run("k through a selective filter", func(t *testing.T) {
		// 500 items, D sees one in ten: an index scan that stopped at its first candidates
		// would come back short.
		q := bulkQuery()
		hits := search(t, q)
		want := reference(q)
		if len(hits) != 10 || len(want) != 10 {
			t.Fatalf("got %d hits (reference %d), want 10", len(hits), len(want))
		}
		recall := memory.RecallAtK(refHits(want), hits)
		if s.Path() == "exact" && recall != 1 || recall < 0.9 {
			t.Fatalf("recall@10 = %v: got %s, want %v", recall, hitList(hits), want)
		}
		for i, h := range hits {
			if h.ScopeID != agentD {
				t.Fatalf("hit %d is %s's", i, h.ScopeID)
			}
			if i > 0 && h.Similarity > hits[i-1].Similarity {
				t.Fatalf("hits out of order: %s", hitList(hits))
			}
		}
		q.Limit = 100 // more than D has: all 50, still in order
		if hits := search(t, q); len(hits) != 50 {
			t.Fatalf("limit 100: %d hits, want D's 50", len(hits))
		}
		// Without a filter but the owner, over all 500.
		q.AgentID, q.Owner, q.Limit = "", userC, 0
		if s.Path() == "exact" {
			checkRef(t, q)
		} else if r := memory.RecallAtK(refHits(reference(q)), search(t, q)); r < 0.9 {
			t.Fatalf("owner C: recall@10 = %v", r)
		}
	})

	t.Run("text", func(t *testing.T) {
		q := memory.Query{AgentID: agentA1, Text: "apple", Mode: memory.ModeText, Now: now}
		hits := search(t, q)
		got := ids(hits)
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if !slices.Equal(sorted, []int{1, 3, 15}) {
			t.Fatalf("text apple for A1: %v, want 1, 3 and 15", got)
		}
		if got[0] != 3 {
			t.Fatalf("the item saying apple twice is not first: %v", got)
		}
		for i, h := range hits {
			if h.TextRank <= 0 || h.Score != h.TextRank || h.Similarity != 0 || (i > 0 && h.TextRank > hits[i-1].TextRank) {
				t.Fatalf("text hits: %+v", hits)
			}
		}
		// websearch syntax: a phrase and a negation.
		q.Text = `"apple pie" -orchard`
		if got := ids(search(t, q)); !slices.Equal(got, []int{1}) {
			t.Fatalf("websearch query: %v", got)
		}
		q.Text = "apple"
		q.Owner, q.AgentID = userB, ""
		if got := ids(search(t, q)); !slices.Equal(got, []int{4}) {
			t.Fatalf("text apple for owner B: %v", got)
		}
		q.Text = "nothing-like-this"
		if hits := search(t, q); len(hits) != 0 {
			t.Fatalf("unknown word: %s", hitList(hits))
		}
	})

	t.Run("hybrid", func(t *testing.T) {
		q := memory.Query{AgentID: agentA1, Vector: e0, Model: model8, Text: "zebra", Mode: memory.ModeHybrid, Now: now}
		hits := search(t, q)
		if len(hits) != memory.DefaultLimit {
			t.Fatalf("hybrid: %d hits", len(hits))
		}
		// 16 is the nearest and says zebra: first, with both scores fused.
		if hits[0].ID != itemID(16) || hits[0].Similarity < 0.92-1e-5 || hits[0].TextRank <= 0 {
			t.Fatalf("hybrid first: %s", hitList(hits))
		}
		if want := 1.0/61 + 1.0/62; math.Abs(hits[0].Score-want) > 1e-12 {
			t.Fatalf("fused score of 16 = %v, want %v (vector rank 1, text rank 2)", hits[0].Score, want)
		}
		// 13 is embedded by another model: found by its words alone.
		h13 := findHit(hits, 13)
		if h13 == nil || h13.Similarity != 0 || h13.TextRank <= 0 {
			t.Fatalf("the words-only item: %+v in %s", h13, hitList(hits))
		}
		// 1 is found by its vector alone.
		if h1 := findHit(hits, 1); h1 == nil || h1.TextRank != 0 || math.Abs(h1.Similarity-0.90) > 1e-5 {
			t.Fatalf("the vector-only item: %+v", h1)
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Fatalf("hybrid out of order: %s", hitList(hits))
			}
		}
		// Above every similarity the threshold leaves the words: both zebra items, 16 with its
		// (known) similarity.
		q.Threshold = 0.95
		hits = search(t, q)
		if got := ids(hits); len(got) != 2 || !slices.Contains(got, 13) || !slices.Contains(got, 16) {
			t.Fatalf("hybrid over threshold 0.95: %s", hitList(hits))
		}
		for _, h := range hits {
			if h.Score != 1.0/61 && h.Score != 1.0/62 {
				t.Fatalf("text-only fused score %v", h.Score)
			}
		}
		// No mode: both a vector and words make it hybrid.
		q.Mode, q.Threshold = "", 0
		if hits := search(t, q); hits[0].ID != itemID(16) || hits[0].TextRank == 0 {
			t.Fatalf("default mode with vector and text: %s", hitList(hits))
		}
	})

	t.Run("validation", func(t *testing.T) {
		good := vq(agentA1, "")
		cases := []struct {
			field string
			edit  func(*memory.Query)
		}{
			{"owner", func(q *memory.Query) { q.AgentID, q.Owner = "", "" }},
			{"agent_id", func(q *memory.Query) { q.AgentID = "not-a-uuid" }},
			{"mode", func(q *memory.Query) { q.Mode = "fuzzy" }},
			{"vector", func(q *memory.Query) { q.Vector = nil }},
			{"vector", func(q *memory.Query) { q.Vector = []float32{float32(math.NaN()), 1} }},
			{"model", func(q *memory.Query) { q.Model = "" }},
			{"text", func(q *memory.Query) { q.Mode = memory.ModeText }},
			{"text", func(q *memory.Query) { q.Mode, q.Text = memory.ModeHybrid, "   " }},
			{"limit", func(q *memory.Query) { q.Limit = memory.MaxLimit + 1 }},
			{"limit", func(q *memory.Query) { q.Limit = -1 }},
			{"threshold", func(q *memory.Query) { q.Threshold = 1.5 }},
			{"threshold", func(q *memory.Query) { q.Threshold = -0.1 }},
			{"scopes", func(q *memory.Query) { q.Scopes = []string{"world"} }},
			{"kinds", func(q *memory.Query) { q.Kinds = []string{"dream"} }},
		}
		for _, c := range cases {
			q := good
			c.edit(&q)
			_, err := s.Search(ctx, q)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
				t.Fatalf("%s: want an invalid error, got %v", c.field, err)
			}
			if !slices.ContainsFunc(de.Fields, func(f domain.FieldError) bool { return f.Field == c.field }) {
				t.Fatalf("%s: fields %+v", c.field, de.Fields)
			}
		}
		// Every problem at once.
		_, err := s.Search(ctx, memory.Query{Mode: memory.ModeHybrid, Limit: 500})
		var de *domain.Error
		if !errors.As(err, &de) || len(de.Fields) < 5 {
			t.Fatalf("want five field errors, got %v", err)
		}
	})
}

func refHits(ref []refHit) []memory.Hit {
	out := make([]memory.Hit, len(ref))
	for i, r := range ref {
		out[i].ID = r.id
	}
	return out
}

// smallQueries are answered hit for hit alike by the two paths (the HNSW graph of a few items
// is searched whole).
func smallQueries() []memory.Query {
	var qs []memory.Query
	for _, a := range []string{agentA1, agentA2, agentB1} {
		qs = append(qs,
			memory.Query{AgentID: a, Vector: e0, Model: model8, Mode: memory.ModeVector, Limit: 5, Now: now},
			memory.Query{AgentID: a, Vector: near(0.5, 3), Model: model8, Mode: memory.ModeVector, Limit: 100, Now: now},
			memory.Query{AgentID: a, Vector: e0, Model: model8, Text: "apple zebra handbook", Mode: memory.ModeHybrid, Now: now},
			memory.Query{AgentID: a, Text: "summary", Mode: memory.ModeText, Now: now})
	}
	for _, o := range []string{userA, userB} {
		qs = append(qs, memory.Query{Owner: o, Vector: near(-0.3, 5), Model: model8, Mode: memory.ModeVector, Limit: 20, Now: now})
	}
	// D sees 50 of the 500: a hybrid list of 50 candidates takes all of them.
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5; i++ {
		qs = append(qs, memory.Query{AgentID: agentD, Vector: randomUnit(r, 16), Model: model16, Text: "bulk item", Mode: memory.ModeHybrid,
			Limit: 5, Now: now})
	}
	return qs
}

// bulkQueries are approximate on the pgvector path: compared by recall.
func bulkQueries() []memory.Query {
	var qs []memory.Query
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10; i++ {
		qs = append(qs, memory.Query{AgentID: agentD, Vector: randomUnit(r, 16), Model: model16, Mode: memory.ModeVector, Limit: 10, Now: now},
			memory.Query{Owner: userC, Vector: randomUnit(r, 16), Model: model16, Mode: memory.ModeVector, Limit: 10, Now: now})
	}
	return qs
}

// sameHits: the same items in the same order, scores within 1e-5.
func sameHits(a, b []memory.Hit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || math.Abs(a[i].Score-b[i].Score) > 1e-5 || math.Abs(a[i].Similarity-b[i].Similarity) > 1e-5 ||
			math.Abs(a[i].TextRank-b[i].TextRank) > 1e-5 {
			return false
		}
	}
	return true
}

func ids(hits []memory.Hit) []int {
	out := make([]int, len(hits))
	for i, h := range hits {
		fmt.Sscanf(h.ID[len(h.ID)-12:], "%d", &out[i])
	}
	return out
}

func findHit(hits []memory.Hit, n int) *memory.Hit {
	for i := range hits {
		if hits[i].ID == itemID(n) {
			return &hits[i]
		}
	}
	return nil
}

func hitList(hits []memory.Hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "[%s s=%.6f sim=%.6f text=%.4f] ", h.ID[len(h.ID)-4:], h.Score, h.Similarity, h.TextRank)
	}
	return b.String()
}

func describe(q memory.Query) string {
	return fmt.Sprintf("query{agent=%.2s owner=%s mode=%s dim=%d model=%s text=%q scopes=%v scope_id=%.2s kinds=%v tags=%v limit=%d threshold=%v}",
		q.AgentID, q.Owner, q.Mode, len(q.Vector), q.Model, q.Text, q.Scopes, q.ScopeID, q.Kinds, q.Tags, q.Limit, q.Threshold)
}
