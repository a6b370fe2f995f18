package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/worktest"
	"github.com/gathering/gathering/projections"
)

// TestCircleWorkModelsFollowTheLogAndReplay drives tasks and a conversation through their
// lives, checks the read models, then rebuilds both from the log to the same checksums.
func TestCircleWorkModelsFollowTheLogAndReplay(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	announcer := eventlog.NewAnnouncer(e.db.SQL, e.notifier)
	t.Cleanup(announcer.Close)
	repo := commands.NewRepository(e.store, domain.Events, announcer)
	commands.RegisterAgents(bus, repo)
	commands.RegisterCircles(bus, repo)
	commands.RegisterCircleTasks(bus, repo)
	commands.RegisterConversations(bus, repo, worktest.NoJobs{})
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	tasksModel, convModel := projections.NewCircleTasks(domain.Events), projections.NewConversations(domain.Events)
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), tasksModel, convModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	waiter := projections.NewWaiter(e.db.SQL, e.notifier)
	owner := domain.Actor{ID: "u1", Role: domain.RoleMember}
	env := func() commands.Envelope { return commands.NewEnvelope(owner, "") }
	send := func(cmd any) commands.Result {
		t.Helper()
		res, err := bus.Send(ctx, cmd)
		if err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
		return res
	}

	circle := uuid.NewString()
	send(&commands.CreateCircle{Envelope: env(), CircleID: circle, Name: "models"})
	dev, rev := uuid.NewString(), uuid.NewString()
	send(&commands.AddCircleMember{Envelope: env(), CircleID: circle, Member: domain.Member{AgentID: dev, Competencies: []string{"go"}}})
	send(&commands.AddCircleMember{Envelope: env(), CircleID: circle, Member: domain.Member{AgentID: rev, Role: "reviewer"}})
	send(&commands.ChangeCircleStatus{Envelope: env(), CircleID: circle, Action: "start"})

	step := func(task, action string, f func(*commands.CircleTaskAction)) commands.Result {
		cmd := &commands.CircleTaskAction{Envelope: env(), CircleID: circle, TaskID: task, Action: action}
		f(cmd)
		return send(cmd)
	}
	wait := func(projection string, res commands.Result) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waiter.WaitFor(wctx, projection, res.Cursor()); err != nil {
			t.Fatal(err)
		}
	}
	approved, rejected := uuid.NewString(), uuid.NewString()
	for _, task := range []string{approved, rejected} {
		send(&commands.CreateCircleTask{Envelope: env(), TaskID: task, Spec: domain.CircleTaskSpec{CircleID: circle, Title: "work",
			RequiredCompetencies: []string{"go"}, RequiresReview: true}})
		step(task, "claim", func(c *commands.CircleTaskAction) { c.AgentID = dev })
		wait("circle_tasks", step(task, "submit", func(c *commands.CircleTaskAction) { c.AgentID, c.Text = dev, "result" }))
	}
	step(approved, "review", func(c *commands.CircleTaskAction) { c.AgentID, c.Decision = rev, domain.ReviewApprove })
	last := step(rejected, "review", func(c *commands.CircleTaskAction) {
		c.AgentID, c.Decision, c.Text = rev, domain.ReviewReject, "no"
	})

	conv := uuid.NewString()
	send(&commands.StartConversation{Envelope: env(), ConversationID: conv, Spec: domain.ConversationSpec{CircleID: circle, Topic: "t",
		Participants: []domain.Participant{{AgentID: dev, Name: "Dev"}, {AgentID: rev, Name: "Rev"}}, MaxTurns: 2}})
	send(&commands.TakeTurn{Envelope: env(), ConversationID: conv, Number: 1, SpeakerID: dev, Content: "hello"})
	send(&commands.PostToConversation{Envelope: env(), ConversationID: conv, MessageID: "m1", Content: "a person's view"})
	convLast := send(&commands.TakeTurn{Envelope: env(), ConversationID: conv, Number: 2, SpeakerID: rev, Content: "bye", SeenPosts: 1})
	wait("circle_tasks", last)
	wait("conversations", convLast)

	reads := projections.NewCircleTaskQueries(e.db.SQL)
	if v, err := reads.ByID(ctx, approved); err != nil || v.Status != "completed" || v.AssigneeID != dev || v.ReviewerID != rev {
		t.Fatalf("approved task: %+v %v", v, err)
	}
	if v, _ := reads.ByID(ctx, rejected); v.Status != "blocked" {
		t.Fatalf("rejected task: %+v", v)
	}
	if esc, err := reads.Escalations(ctx, circle, 10); err != nil || len(esc) != 1 || esc[0].TaskID != rejected {
		t.Fatalf("escalations: %+v %v", esc, err)
	}
	convs, err := projections.NewConversationQueries(e.db.SQL).List(ctx, circle, "", "", 10)
	if err != nil || len(convs) != 1 || convs[0].Status != "ended" || convs[0].EndReason != "max_turns" || convs[0].TurnsTaken != 2 ||
		convs[0].Posts != 1 || len(convs[0].Participants) != 2 {
		t.Fatalf("conversations: %+v %v", convs, err)
	}

	for _, p := range []projections.Projection{tasksModel, convModel} {
		sum, err := p.Checksum(ctx, e.db.SQL)
		if err != nil {
			t.Fatal(err)
		}
		first, err := projections.Replay(ctx, e.store, p)
		if err != nil {
			t.Fatal(err)
		}
		second, err := projections.Replay(ctx, e.store, p)
		if err != nil {
			t.Fatal(err)
		}
		if first.Checksum != sum || second.Checksum != sum {
			t.Fatalf("%s: live %+v, replays %+v %+v", p.Name(), sum, first.Checksum, second.Checksum)
		}
	}
}
