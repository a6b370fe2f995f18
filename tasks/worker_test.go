package tasks_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/internal/worktest"
	"github.com/gathering/gathering/tasks"
	"github.com/gathering/gathering/tools"
)

// TestWorkerResumesAfterTheLastRecordedStep plays a job that died after recording step 1: the
// next job keeps step 1 as it was and goes on from step 2.
func TestWorkerResumesAfterTheLastRecordedStep(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(store, domain.Events, nil)
	commands.RegisterAgents(bus, repo)
	commands.RegisterTasks(bus, repo, worktest.NoJobs{})
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	owner := domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember}
	agentID, taskID := uuid.NewString(), uuid.NewString()
	if _, err := bus.Send(ctx, &commands.CreateAgent{Envelope: commands.NewEnvelope(owner, ""), AgentID: agentID,
		Spec: domain.AgentSpec{Name: "Worker", Provider: domain.ProviderOffline}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Send(ctx, &commands.CreateTask{Envelope: commands.NewEnvelope(owner, ""), TaskID: taskID, AgentID: agentID,
		Goal: "Think it through.", MaxSteps: 3}); err != nil {
		t.Fatal(err)
	}
	first := domain.TaskStep{Number: 1, Output: "step one, recorded before the crash"}
	if _, err := bus.Send(ctx, &commands.RecordTaskStep{Envelope: commands.NewEnvelope(owner, ""), TaskID: taskID, Step: first}); err != nil {
		t.Fatal(err)
	}
	models := &worktest.CountingModels{}
	w := &tasks.Worker{Repo: repo, Bus: bus, Models: models, Tools: tools.Default(tools.Options{})}
	if err := w.Work(ctx, &river.Job[commands.TaskRun]{Args: commands.TaskRun{TaskID: taskID}}); err != nil {
		t.Fatal(err)
	}
	task, _, err := repo.LoadTask(ctx, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != domain.TaskStatusFailed || len(task.Steps) != 3 || task.Steps[0].Output != first.Output ||
		task.Steps[1].Number != 2 || task.Steps[2].Number != 3 {
		t.Fatalf("task after resume: %+v", task)
	}
	if models.Calls != 2 {
		t.Fatalf("the model was asked %d times, want 2 (steps 2 and 3 only)", models.Calls)
	}
	// A second job for the same task (River retried it) finds nothing left to do.
	if err := w.Work(ctx, &river.Job[commands.TaskRun]{Args: commands.TaskRun{TaskID: taskID}}); err != nil || models.Calls != 2 {
		t.Fatalf("a retried job worked again: %v, %d calls", err, models.Calls)
	}
}
