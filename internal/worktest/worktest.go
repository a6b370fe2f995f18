// Package worktest has the stand-ins that job tests share: an inserter that enqueues nothing (the
// test runs the worker itself) and a model registry that counts the calls reaching the model.
package worktest

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gathering/gathering/llm"
)

// NoJobs stands in for River.
type NoJobs struct{}

func (NoJobs) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{}, nil
}

// CountingModels serves the offline model for every provider and counts streamed calls.
type CountingModels struct{ Calls int }

func (m *CountingModels) Get(string) (llm.Provider, error) {
	return &counted{Provider: llm.NewOffline(), n: &m.Calls}, nil
}

type counted struct {
	llm.Provider
	n *int
}

func (c *counted) Stream(ctx context.Context, r llm.Request, f func(string)) (llm.Response, error) {
	*c.n++
	return c.Provider.Stream(ctx, r, f)
}
