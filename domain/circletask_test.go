package domain

import (
	"testing"
)

var taskOwner = Actor{ID: "owner-1", Role: RoleMember}

// fold applies a decision's events to task: fold(t, task)(task.Claim(...)).
func fold(t *testing.T, task *CircleTask) func([]Event, error) []Event {
	return func(events []Event, err error) []Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			task.Apply(e)
		}
		return events
	}
}

func types(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.EventType()
	}
	return out
}

func TestRankCandidatesWeighsMatchWorkloadAndApproval(t *testing.T) {
	members := []Candidate{
		{AgentID: "a-go-only", Role: "member", Competencies: []string{"go"}},
		{AgentID: "b-both", Role: "member", Competencies: []string{"go", "sql"}},
		{AgentID: "c-both-busy", Role: "member", Competencies: []string{"go", "sql"}, Workload: 5},
		{AgentID: "d-observer", Role: "observer", Competencies: []string{"go", "sql"}},
		{AgentID: "e-none", Role: "member", Competencies: []string{"css"}},
	}
	got := RankCandidates([]string{"go", "sql"}, members)
	if len(got) != 3 || got[0].AgentID != "b-both" {
		t.Fatalf("ranking: %+v", got)
	}
	// b: 0.5 + 0.3 + 0.1; a: 0.25 + 0.3 + 0.1; c: 0.5 + 0 + 0.1.
	if got[0].Score != 0.9 || got[1].AgentID != "a-go-only" || got[1].Score != 0.65 || got[2].AgentID != "c-both-busy" || got[2].Score != 0.6 {
		t.Fatalf("scores: %+v", got)
	}
	// A good record beats an equal newcomer; a poor one falls behind.
	rated := RankCandidates([]string{"go"}, []Candidate{
		{AgentID: "new", Role: "member", Competencies: []string{"go"}},
		{AgentID: "poor", Role: "member", Competencies: []string{"go"}, Approved: 0, Reviewed: 4},
		{AgentID: "proven", Role: "member", Competencies: []string{"go"}, Approved: 8, Reviewed: 8},
	})
	if rated[0].AgentID != "proven" || rated[1].AgentID != "new" || rated[2].AgentID != "poor" {
		t.Fatalf("by approval: %+v", rated)
	}
	// No required competencies: every working member fits; ties go to the lower id.
	open := RankCandidates(nil, members)
	if len(open) != 4 || open[0].AgentID != "a-go-only" {
		t.Fatalf("open task: %+v", open)
	}
}

func TestPickReviewerPrefersReviewersAndNeverTheAuthor(t *testing.T) {
	members := []ReviewLoad{
		{AgentID: "author", Role: "reviewer"},
		{AgentID: "m1", Role: "member"},
		{AgentID: "r1", Role: "reviewer", Pending: 2},
		{AgentID: "r2", Role: "lead", Pending: 1},
	}
	if got := PickReviewer("author", members); got != "r2" {
		t.Fatalf("reviewer %q, want the least loaded reviewer or lead", got)
	}
	if got := PickReviewer("author", members[:2]); got != "m1" {
		t.Fatalf("without reviewers: %q", got)
	}
	if got := PickReviewer("author", members[:1]); got != "" {
		t.Fatalf("only the author: %q", got)
	}
}

func newTask(t *testing.T, review bool, ranking []RouteScore) *CircleTask {
	t.Helper()
	task := &CircleTask{}
	ev := fold(t, task)(task.Create(taskOwner, "t1", CircleTaskSpec{CircleID: "c1", Title: " Write the parser ",
		RequiredCompetencies: []string{"Go", "go", " SQL "}, RequiresReview: review}, ranking))
	created := ev[0].(*CircleTaskCreated)
	if created.Spec.Title != "Write the parser" || created.Spec.Priority != DefaultTaskPriority ||
		len(created.Spec.RequiredCompetencies) != 2 || created.Spec.RequiredCompetencies[1] != "sql" {
		t.Fatalf("created: %+v", created.Spec)
	}
	return task
}

func TestCircleTaskFlowThroughChangesToApproval(t *testing.T) {
	ranking := []RouteScore{{AgentID: "ada", Score: 0.9}, {AgentID: "bob", Score: 0.7}}
	task := newTask(t, true, ranking)
	if task.Status != CircleTaskStatusOffered || task.OfferedTo != "ada" {
		t.Fatalf("offered: %+v", task)
	}
	if _, err := task.Claim(taskOwner, "bob"); ErrorCode(err) != CodeConflict {
		t.Fatalf("claim by someone else: %v", err)
	}
	fold(t, task)(task.Claim(taskOwner, "ada"))
	if _, err := task.Submit(taskOwner, "ada", "  ", "rev"); ErrorCode(err) != CodeInvalid {
		t.Fatalf("empty result: %v", err)
	}
	fold(t, task)(task.Submit(taskOwner, "ada", "parser v1", "rev"))
	if task.Status != CircleTaskStatusInReview || task.ReviewerID != "rev" {
		t.Fatalf("submitted: %+v", task)
	}
	if _, err := task.Review(taskOwner, "ada", ReviewApprove, ""); ErrorCode(err) != CodeInvalid {
		t.Fatalf("self review: %v", err)
	}
	if _, err := task.Review(taskOwner, "rev", ReviewRequestChanges, ""); ErrorCode(err) != CodeInvalid {
		t.Fatalf("changes without comments: %v", err)
	}
	fold(t, task)(task.Review(taskOwner, "rev", ReviewRequestChanges, "handle empty input"))
	if task.Status != CircleTaskStatusInProgress || task.Iteration != 2 {
		t.Fatalf("changes: %+v", task)
	}
	fold(t, task)(task.Submit(taskOwner, "ada", "parser v2", "rev"))
	ev := fold(t, task)(task.Review(taskOwner, "rev", ReviewApprove, "good"))
	if got := types(ev); len(got) != 2 || got[0] != EventCircleTaskApproved || got[1] != EventCircleTaskCompleted {
		t.Fatalf("approve: %v", got)
	}
	if task.Status != CircleTaskStatusCompleted || task.Result != "parser v2" {
		t.Fatalf("done: %+v", task)
	}
	if _, err := task.Cancel(taskOwner, ""); ErrorCode(err) != CodeConflict {
		t.Fatalf("cancel a completed task: %v", err)
	}
}

func TestCircleTaskRejectionEscalatesAndReleasesFiles(t *testing.T) {
	task := newTask(t, true, []RouteScore{{AgentID: "ada"}})
	fold(t, task)(task.Claim(taskOwner, "ada"))
	fold(t, task)(task.ClaimFile(taskOwner, "ada", "src/b.go"))
	fold(t, task)(task.ClaimFile(taskOwner, "ada", "src/a.go"))
	if ev, err := task.ClaimFile(taskOwner, "ada", "src/a.go"); err != nil || len(ev) != 0 {
		t.Fatalf("claiming a held file again: %v %v", ev, err)
	}
	fold(t, task)(task.Submit(taskOwner, "ada", "done", ""))
	ev := fold(t, task)(task.Review(taskOwner, "", ReviewReject, "wrong approach"))
	got := types(ev)
	want := []string{EventCircleTaskRejected, EventCircleEscalationRaised, EventCircleFileReleased, EventCircleFileReleased}
	if len(got) != len(want) {
		t.Fatalf("reject: %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reject: %v", got)
		}
	}
	if ev[0].(*CircleTaskRejected).ReviewerID != "user:owner-1" || ev[2].(*CircleFileReleased).Path != "src/a.go" {
		t.Fatalf("a person reviewed; files released in order: %+v %+v", ev[0], ev[2])
	}
	if task.Status != CircleTaskStatusBlocked || len(task.Files) != 0 {
		t.Fatalf("blocked: %+v", task)
	}
	// A blocked task can be routed again.
	fold(t, task)(task.Route(taskOwner, "", []RouteScore{{AgentID: "bob"}}))
	if task.Status != CircleTaskStatusOffered || task.OfferedTo != "bob" {
		t.Fatalf("re-routed: %+v", task)
	}
}

func TestCircleTaskTooManyIterationsEscalate(t *testing.T) {
	task := newTask(t, true, []RouteScore{{AgentID: "ada"}})
	fold(t, task)(task.Claim(taskOwner, "ada"))
	for i := 1; i < MaxTaskIterations; i++ {
		fold(t, task)(task.Submit(taskOwner, "ada", "try", "rev"))
		fold(t, task)(task.Review(taskOwner, "rev", ReviewRequestChanges, "again"))
	}
	fold(t, task)(task.Submit(taskOwner, "ada", "try", "rev"))
	ev := fold(t, task)(task.Review(taskOwner, "rev", ReviewRequestChanges, "again"))
	if types(ev)[1] != EventCircleEscalationRaised || task.Status != CircleTaskStatusBlocked {
		t.Fatalf("iteration %d: %v", task.Iteration, types(ev))
	}
}

func TestCircleTaskRefusalsRouteToTheNextCandidate(t *testing.T) {
	ranking := []RouteScore{{AgentID: "ada"}, {AgentID: "bob"}}
	task := newTask(t, false, ranking)
	ev := fold(t, task)(task.Refuse(taskOwner, "ada", "busy", ranking))
	if types(ev)[1] != EventCircleTaskOffered || task.OfferedTo != "bob" {
		t.Fatalf("after ada refused: %v %+v", types(ev), task)
	}
	ev = fold(t, task)(task.Refuse(taskOwner, "bob", "", ranking))
	if types(ev)[1] != EventCircleTaskUnrouted || task.Status != CircleTaskStatusPending ||
		ev[1].(*CircleTaskUnrouted).Reason != "every member who fits has refused it" {
		t.Fatalf("after everyone refused: %v %+v", types(ev), task)
	}
	// A person names someone; claim; without review the submission completes it.
	if _, err := task.Route(taskOwner, "carol", ranking); ErrorCode(err) != CodeInvalid {
		t.Fatalf("routing to a non-candidate: %v", err)
	}
	fold(t, task)(task.Route(taskOwner, "ada", ranking))
	fold(t, task)(task.Claim(taskOwner, "ada"))
	ev = fold(t, task)(task.Submit(taskOwner, "ada", "ok", ""))
	if types(ev)[1] != EventCircleTaskCompleted || task.Status != CircleTaskStatusCompleted {
		t.Fatalf("submit without review: %v", types(ev))
	}
}

func TestCircleTaskValidationAndAccess(t *testing.T) {
	task := &CircleTask{}
	_, err := task.Create(taskOwner, "t", CircleTaskSpec{CircleID: "c", Title: "", Priority: 11,
		RequiredCompetencies: []string{"ok", ""}}, nil)
	e, _ := err.(*Error)
	if e == nil || len(e.Fields) != 3 || e.Fields[0].Field != "title" || e.Fields[1].Field != "priority" ||
		e.Fields[2].Field != "required_competencies[1]" {
		t.Fatalf("validation: %v", err)
	}
	ev, err := task.Create(taskOwner, "t", CircleTaskSpec{CircleID: "c", Title: "x", RequiredCompetencies: []string{"rust"}}, nil)
	if err != nil || ev[1].(*CircleTaskUnrouted).Reason != "no member has any of the required competencies" {
		t.Fatalf("unroutable: %v %v", ev, err)
	}
	fold(t, task)(ev, nil)
	if _, err := task.Route(Actor{ID: "stranger"}, "", nil); ErrorCode(err) != CodeForbidden {
		t.Fatalf("stranger: %v", err)
	}
}

func TestCleanTaskPath(t *testing.T) {
	for in, want := range map[string]string{"src/./a.go": "src/a.go", "src\\b.go": "src/b.go", "a//b/../c": "a/c"} {
		if got, err := CleanTaskPath(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "."} {
		if _, err := CleanTaskPath(bad); ErrorCode(err) != CodeInvalid {
			t.Errorf("%q accepted", bad)
		}
	}
}
