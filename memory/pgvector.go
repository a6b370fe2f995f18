package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pgvector/pgvector-go"
)

// vectorLock serializes EnableVector across instances that start together (an advisory lock
// held by its transaction; the DDL is transactional, so the second one finds it all done).
const vectorLock = 0x6d656d766563 // "memvec"

// vectorColumnSQL adds the pgvector copy of the embedding. A generated column keeps the
// projection's statements the same on both paths: they write embedding (real[]) and the server
// derives embedding_vec. The real[] → vector cast is immutable (array_to_vector), which a stored
// generated column needs; the CASE keeps an empty array (which vector refuses) as NULL.
const vectorColumnSQL = `ALTER TABLE memory_items ADD COLUMN IF NOT EXISTS embedding_vec vector
    GENERATED ALWAYS AS (CASE WHEN cardinality(embedding) > 0 THEN embedding::vector END) STORED`

// vectorStatus is what EnableVector found and did.
type vectorStatus struct {
	Available bool   // the server has the extension
	Enabled   bool   // it is installed in this database and memory_items has embedding_vec
	Version   string // installed version, e.g. "0.8.0"
	Reason    string // why it is not enabled
	// Iterative is true from pgvector 0.8.0 on: filtered HNSW scans go on until they have k rows.
	Iterative bool
	// Indexed lists the dimensions that have an HNSW index.
	Indexed []int
}

// EnableVector installs pgvector in the database when the server has it, adds memory_items'
// embedding_vec column and an HNSW index for each dimension in use. It returns false (and no
// error) when the server does not have the extension.
func EnableVector(ctx context.Context, db *sql.DB) (bool, error) {
	st, err := enableVector(ctx, db)
	return st.Enabled, err
}

func enableVector(ctx context.Context, db *sql.DB) (vectorStatus, error) {
	var st vectorStatus
	var available int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'").Scan(&available); err != nil {
		return st, fmt.Errorf("memory: look for pgvector: %w", err)
	}
	if available == 0 {
		st.Reason = "no pgvector extension on this server"
		return st, nil
	}
	st.Available = true
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("memory: enable pgvector: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Each step looks before it acts: ALTER TABLE and CREATE INDEX lock memory_items even when
	// IF NOT EXISTS finds nothing to do, and a server restart should not wait on readers.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+strconv.Itoa(vectorLock)+")"); err != nil {
		return st, fmt.Errorf("memory: enable pgvector: %w", err)
	}
	var installed, column bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),
		EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'memory_items'::regclass AND attname = 'embedding_vec' AND NOT attisdropped)`).
		Scan(&installed, &column); err != nil {
		return st, fmt.Errorf("memory: enable pgvector: %w", err)
	}
	var steps []string
	if !installed {
		steps = append(steps, "CREATE EXTENSION IF NOT EXISTS vector")
	}
	if !column {
		steps = append(steps, vectorColumnSQL)
	}
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			st.Reason = "pgvector could not be enabled: " + err.Error()
			return st, fmt.Errorf("memory: enable pgvector: %s: %w", firstLine(s), err)
		}
	}
	if err := tx.QueryRowContext(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&st.Version); err != nil {
		return st, fmt.Errorf("memory: pgvector version: %w", err)
	}
	st.Iterative = versionAtLeast(st.Version, 0, 8, 0)
	dims, err := dimsInUse(ctx, tx)
	if err != nil {
		return st, err
	}
	for _, d := range dims {
		if d > MaxIndexedDimension {
			continue
		}
		if err := ensureIndex(ctx, tx, d); err != nil {
			return st, err
		}
		st.Indexed = append(st.Indexed, d)
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("memory: enable pgvector: %w", err)
	}
	st.Enabled = true
	return st, nil
}

func dimsInUse(ctx context.Context, db queryer) ([]int, error) {
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT embedding_dim FROM memory_items WHERE embedding_dim > 0 ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("memory: dimensions in use: %w", err)
	}
	defer rows.Close()
	var dims []int
	for rows.Next() {
		var d int
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		dims = append(dims, d)
	}
	return dims, rows.Err()
}

// indexSQL is the partial HNSW index of one dimension (cosine distance). The column has no
// fixed dimension (one table holds every model's vectors), HNSW needs one: the index is on the
// expression embedding_vec::vector(dim), over the rows of that dimension only.
func indexSQL(dim int) string {
	d := strconv.Itoa(dim)
	return "CREATE INDEX IF NOT EXISTS memory_items_hnsw_" + d + " ON memory_items USING hnsw ((embedding_vec::vector(" + d +
		")) vector_cosine_ops) WHERE embedding_dim = " + d
}

// EnsureIndex creates the HNSW index of vectors of dim dimensions if it is missing (call it when a
// model with a new dimension starts to be used). It needs EnableVector first. pgvector indexes
// at most MaxIndexedDimension dimensions; larger vectors are searched exactly, without an index.
// The build holds a SHARE lock on memory_items (writes wait) for as long as it takes.
func EnsureIndex(ctx context.Context, db *sql.DB, dim int) error {
	if dim < 1 || dim > MaxIndexedDimension {
		return fmt.Errorf("memory: hnsw indexes take 1 to %d dimensions, not %d", MaxIndexedDimension, dim)
	}
	return ensureIndex(ctx, db, dim)
}

type execer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ensureIndex(ctx context.Context, db execer, dim int) error {
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", "memory_items_hnsw_"+strconv.Itoa(dim)).Scan(&exists); err != nil {
		return fmt.Errorf("memory: hnsw index for %d dimensions: %w", dim, err)
	}
	if exists {
		return nil
	}
	// pgvector builds the graph in memory while it fits in maintenance_work_mem and falls back
	// to a far slower build when it does not (the 64 MB default holds about 30 000 vectors of
	// 384 dimensions). One statement: the setting and the build share a transaction.
	build := "SET LOCAL maintenance_work_mem = '" + strconv.Itoa(IndexBuildMemoryMB) + "MB'; " + indexSQL(dim)
	if _, err := db.ExecContext(ctx, "BEGIN; "+build+"; COMMIT"); err != nil {
		return fmt.Errorf("memory: hnsw index for %d dimensions: %w", dim, err)
	}
	return nil
}

// IndexBuildMemoryMB is the maintenance_work_mem an HNSW index build gets.
const IndexBuildMemoryMB = 512

// PGVector searches with pgvector: cosine distance on the embedding_vec column, through the
// HNSW index of the query's dimension.
type PGVector struct {
	db        *sql.DB
	opts      execOpts
	version   string
	iterative bool
	// exhausted counts the searches whose index scan came back short and were answered by
	// an exact scan instead (tests check that filtered scans do not need it).
	exhausted atomic.Int64
}

// NewPGVector returns the pgvector searcher; EnableVector must have succeeded on db.
func NewPGVector(ctx context.Context, db *sql.DB) (*PGVector, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errors.New("memory: pgvector is not installed in this database (EnableVector first)")
		}
		return nil, fmt.Errorf("memory: pgvector version: %w", err)
	}
	return &PGVector{db: db, opts: execOptsFor(db), version: v, iterative: versionAtLeast(v, 0, 8, 0)}, nil
}

// Path implements Searcher.
func (*PGVector) Path() string { return "pgvector" }

// Version is the installed pgvector version.
func (s *PGVector) Version() string { return s.version }

// Search implements Searcher.
func (s *PGVector) Search(ctx context.Context, q Query) ([]Hit, error) {
	p, err := validate(q)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return runModes(ctx, tx, p, s.opts, func() ([]Hit, error) { return s.nearest(ctx, tx, p) })
}

// efSearch is the HNSW candidate list size for n results.
func (s *PGVector) efSearch(n int) int {
	ef := max(40, 2*n)
	if !s.iterative {
		// No iterative scans before 0.8.0: a wider first search is all there is to make up
		// for the rows the filters drop (and the exact scan below when it is not enough).
		ef = max(100, 10*n)
	}
	return min(ef, 1000)
}

// nearestSQL is the vector statement of the pgvector path.
func nearestSQL(p plan) (string, args) {
	var a args
	d := strconv.Itoa(p.dim)
	qv := a.add(pgvector.NewVector(p.Vector)) + "::vector(" + d + ")"
	where := filterSQL(p, &a) + "\n  AND " + vectorFilterSQL(p, &a)
	dist := "embedding_vec::vector(" + d + ") <=> " + qv
	// Relaxed order: the index hands rows out nearly by distance; the outer query sorts them.
	q := `WITH nearest AS MATERIALIZED (
SELECT ` + itemColumns + `, ` + dist + ` AS distance
FROM memory_items
WHERE ` + where + `
ORDER BY ` + dist + `
LIMIT ` + strconv.Itoa(p.n) + `
)
SELECT * FROM nearest ORDER BY distance, id COLLATE "C"`
	return q, a
}

// nearest returns the p.n nearest visible items, with Similarity set. HNSW scans with iterative
// scans in relaxed order keep reading the graph until the filters let p.n rows through, the
// graph is exhausted, or hnsw.max_scan_tuples rows were read. Only the last loses rows: when
// the scan comes back short and the index holds more rows than a scan may read, the same
// statement runs again without the index, which is exact.
func (s *PGVector) nearest(ctx context.Context, tx *sql.Tx, p plan) ([]Hit, error) {
	ef := s.efSearch(p.n)
	// One round trip sets the scan up and reads how far it may go.
	setup := "SELECT set_config('hnsw.ef_search', '" + strconv.Itoa(ef) + "', true), "
	if s.iterative {
		setup += "set_config('hnsw.iterative_scan', 'relaxed_order', true), current_setting('hnsw.max_scan_tuples')::int"
	} else {
		setup += "'', " + strconv.Itoa(ef) // without iterative scans an index scan reads ef_search rows
	}
	var a1, a2 string
	var reach int
	if err := tx.QueryRowContext(ctx, setup).Scan(&a1, &a2, &reach); err != nil {
		return nil, fmt.Errorf("memory: vector search: %w", err)
	}
	q, a := nearestSQL(p)
	a = s.opts.with(a)
	hits, err := scanNearest(ctx, tx, q, a)
	if err != nil || len(hits) >= p.n {
		return hits, err
	}
	var more bool
	if err := tx.QueryRowContext(ctx, "SELECT count(*) > $1 FROM (SELECT 1 FROM memory_items WHERE embedding_dim = "+
		strconv.Itoa(p.dim)+" AND embedding_vec IS NOT NULL LIMIT $1 + 1) AS t", reach).Scan(&more); err != nil {
		return nil, fmt.Errorf("memory: vector search: %w", err)
	}
	if !more {
		return hits, nil // the scan could read every row of the index: short is the answer
	}
	s.exhausted.Add(1)
	if _, err := tx.ExecContext(ctx, "SET LOCAL enable_indexscan = off"); err != nil {
		return nil, fmt.Errorf("memory: vector search: %w", err)
	}
	return scanNearest(ctx, tx, q, a)
}

func scanNearest(ctx context.Context, tx *sql.Tx, q string, a args) ([]Hit, error) {
	rows, err := tx.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("memory: vector search: %w", err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var dist float64
		it, err := scanItem(rows, &dist)
		if err != nil {
			return nil, fmt.Errorf("memory: vector search: %w", err)
		}
		hits = append(hits, Hit{Item: it, Similarity: 1 - dist})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: vector search: %w", err)
	}
	return hits, nil
}

// versionAtLeast compares a dotted version with major.minor.patch.
func versionAtLeast(v string, major, minor, patch int) bool {
	want := []int{major, minor, patch}
	parts := strings.Split(v, ".")
	for i := range want {
		got := 0
		if i < len(parts) {
			n, err := strconv.Atoi(strings.TrimFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
			if err != nil {
				return false
			}
			got = n
		}
		if got != want[i] {
			return got > want[i]
		}
	}
	return true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
