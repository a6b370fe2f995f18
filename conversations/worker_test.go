package conversations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/conversations"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/internal/worktest"
)

// TestWorkerResumesAfterTheLastRecordedTurn plays a job that died after turn 1 was recorded:
// the next job keeps turn 1 and takes turns 2 and 3 only.
func TestWorkerResumesAfterTheLastRecordedTurn(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(store, domain.Events, nil)
	commands.RegisterAgents(bus, repo)
	commands.RegisterConversations(bus, repo, worktest.NoJobs{})
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	owner := domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember}
	var parts []domain.Participant
	for _, name := range []string{"Ada", "Bob"} {
		id := uuid.NewString()
		if _, err := bus.Send(ctx, &commands.CreateAgent{Envelope: commands.NewEnvelope(owner, ""), AgentID: id,
			Spec: domain.AgentSpec{Name: name, Provider: domain.ProviderOffline}}); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, domain.Participant{AgentID: id, Name: name})
	}
	convID := uuid.NewString()
	if _, err := bus.Send(ctx, &commands.StartConversation{Envelope: commands.NewEnvelope(owner, ""), ConversationID: convID,
		Spec: domain.ConversationSpec{CircleID: uuid.NewString(), Topic: "resuming", Participants: parts, MaxTurns: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Send(ctx, &commands.TakeTurn{Envelope: commands.NewEnvelope(domain.System, ""), ConversationID: convID,
		Number: 1, SpeakerID: parts[0].AgentID, Content: "recorded before the crash"}); err != nil {
		t.Fatal(err)
	}
	models := &worktest.CountingModels{}
	w := &conversations.Worker{Repo: repo, Bus: bus, DB: db.SQL, Models: models}
	if err := w.Work(ctx, &river.Job[commands.ConversationRun]{Args: commands.ConversationRun{ConversationID: convID}}); err != nil {
		t.Fatal(err)
	}
	conv, _, err := repo.LoadConversation(ctx, convID)
	if err != nil {
		t.Fatal(err)
	}
	if !conv.Ended || conv.Reason != domain.EndMaxTurns || len(conv.Turns) != 3 || conv.Turns[0].Content != "recorded before the crash" ||
		conv.Turns[1].SpeakerID != parts[1].AgentID {
		t.Fatalf("after resume: %+v", conv)
	}
	if models.Calls != 2 {
		t.Fatalf("%d model calls, want 2 (turns 2 and 3)", models.Calls)
	}
	if err := w.Work(ctx, &river.Job[commands.ConversationRun]{Args: commands.ConversationRun{ConversationID: convID}}); err != nil || models.Calls != 2 {
		t.Fatalf("a retried job took turns again: %v, %d calls", err, models.Calls)
	}
}
