package memory

import "database/sql"

// NewExactSQL is the exact searcher computing the dot product in SQL (its fallback for drivers
// other than pgx), so the contract runs on it too.
func NewExactSQL(db *sql.DB) *Exact { return &Exact{db: db, inSQL: true} }

// Exhausted counts the searches s answered with an exact scan because the index scan came back
// short.
func Exhausted(s *PGVector) int64 { return s.exhausted.Load() }

// NearestSQL is the pgvector path's vector statement for q.
func NearestSQL(q Query) (string, []any, error) {
	p, err := validate(q)
	if err != nil {
		return "", nil, err
	}
	s, a := nearestSQL(p)
	return s, a, nil
}

// EfSearch is the hnsw.ef_search s sets for n results.
func EfSearch(s *PGVector, n int) int { return s.efSearch(n) }
