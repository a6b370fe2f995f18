package conversations_test

import (
	"testing"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/worktest"
)

// TestWorkerResumesAfterTheLastRecordedTurn plays a job that died after turn 1 was recorded:
// the next job keeps turn 1 and takes turns 2 and 3 only.
func TestWorkerResumesAfterTheLastRecordedTurn(t *testing.T) {
	h := newHarness(t)
	parts := []domain.Participant{h.agent("Ada", domain.ProviderOffline, ""), h.agent("Bob", domain.ProviderOffline, "")}
	convID := h.start(domain.ConversationSpec{Topic: "resuming", Participants: parts, MaxTurns: 3})
	if _, err := h.bus.Send(h.ctx, &commands.TakeTurn{Envelope: commands.NewEnvelope(domain.System, ""), ConversationID: convID,
		Number: 1, SpeakerID: parts[0].AgentID, Content: "recorded before the crash"}); err != nil {
		t.Fatal(err)
	}
	models := &worktest.CountingModels{}
	w := h.worker(models)
	h.mustWork(w, convID)
	conv, _ := h.load(convID)
	if !conv.Ended || conv.Reason != domain.EndMaxTurns || len(conv.Turns) != 3 || conv.Turns[0].Content != "recorded before the crash" ||
		conv.Turns[1].SpeakerID != parts[1].AgentID {
		t.Fatalf("after resume: %+v", conv)
	}
	if models.Calls != 2 {
		t.Fatalf("%d model calls, want 2 (turns 2 and 3)", models.Calls)
	}
	if err := h.work(h.ctx, w, convID); err != nil || models.Calls != 2 {
		t.Fatalf("a retried job took turns again: %v, %d calls", err, models.Calls)
	}
}
