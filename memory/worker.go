package memory

import (
	"context"
	"database/sql"
	"errors"

	"github.com/riverqueue/river"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/sql/dbq"
)

// EmbedWorker is the River worker of EmbedItems jobs: it embeds a memory or every chunk of a
// document (through the cache) outside any transaction, then records memory.embedded or
// knowledge.chunks_embedded, which the projection turns into searchable vectors. A provider
// failure fails the job, which River retries with backoff; until then the item is found by
// its words only, and /memory/stats counts it as not embedded.
type EmbedWorker struct {
	river.WorkerDefaults[commands.EmbedItems]
	Repo       *commands.Repository
	Bus        *commands.Bus
	Embeddings *Embeddings
}

func (w *EmbedWorker) Work(ctx context.Context, job *river.Job[commands.EmbedItems]) error {
	model, dim := w.Embeddings.Model(), w.Embeddings.Dimension()
	env := commands.NewEnvelope(domain.System, "")
	switch job.Args.ItemKind {
	case "memory":
		m, err := w.Repo.LoadMemory(ctx, job.Args.ID)
		if err != nil {
			return err
		}
		if m.Version == 0 || m.Forgotten || m.Model == model {
			return nil
		}
		if _, err := w.Embeddings.Embed(ctx, []string{m.Spec.Content}); err != nil {
			return err
		}
		_, err = w.Bus.Send(ctx, &commands.RecordEmbedding{Envelope: env, Kind: "memory", ID: m.ID, Model: model, Dimension: dim, Hash: m.Hash})
		return err
	case "knowledge":
		k, err := w.Repo.LoadKnowledge(ctx, job.Args.ID)
		if err != nil {
			return err
		}
		if k.Version == 0 || k.Removed || k.Model == model {
			return nil
		}
		texts := make([]string, len(k.Chunks))
		for i, c := range k.Chunks {
			texts[i] = domain.ChunkText(k.Spec.Format, k.Spec.Content, c)
		}
		if _, err := w.Embeddings.Embed(ctx, texts); err != nil {
			return err
		}
		_, err = w.Bus.Send(ctx, &commands.RecordEmbedding{Envelope: env, Kind: "knowledge", ID: k.ID, Model: model, Dimension: dim})
		return err
	}
	return river.JobCancel(errors.New("unknown item kind " + job.Args.ItemKind))
}

// ScheduleReembedding queues an embedding job for every item the current model has not
// embedded (after a change of model), a page at a time; River's uniqueness keeps a job from
// being queued twice while it waits.
func ScheduleReembedding(ctx context.Context, db *sql.DB, inserter jobs.Inserter, model string) (int, error) {
	rows, err := dbq.New().StaleMemoryItems(ctx, db, dbq.StaleMemoryItemsParams{Model: model, MaxRows: 100000})
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, r := range rows {
		if _, err := inserter.InsertTx(ctx, tx, commands.EmbedItems{ItemKind: r.Kind, ID: r.ID.String()},
			&river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return 0, err
		}
	}
	return len(rows), tx.Commit()
}
