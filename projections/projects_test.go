package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/projections"
)

func TestProjectsProjectionFollowsCommandsAndReplays(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	announcer := eventlog.NewAnnouncer(e.db.SQL, e.notifier)
	t.Cleanup(announcer.Close)
	repo := commands.NewRepository(e.store, domain.Events, announcer)
	circles, projects := commands.RegisterCircles(bus, repo), commands.RegisterProjects(bus, repo)
	live, circleModel := projections.NewProjects(domain.Events), projections.NewCircles(domain.Events)
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), live, circleModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	owner := commands.NewEnvelope(domain.Actor{ID: "u1", Role: domain.RoleMember}, "")

	circleID := uuid.NewString()
	if _, err := circles.Create(ctx, &commands.CreateCircle{Envelope: owner, CircleID: circleID, Name: "builders"}); err != nil {
		t.Fatal(err)
	}
	var last commands.Result
	var ids []string
	for i := 0; i < 5; i++ {
		id := uuid.NewString()
		ids = append(ids, id)
		if last, err = projects.Create(ctx, &commands.CreateProject{Envelope: owner, ProjectID: id,
			Spec: domain.ProjectSpec{Name: fmt.Sprintf("project-%d", i), TechStack: []string{"Go"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := projects.Create(ctx, &commands.CreateProject{Envelope: owner, ProjectID: uuid.NewString(),
		Spec: domain.ProjectSpec{Name: "PROJECT-0"}}); err != commands.ErrProjectNameTaken && domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("duplicate name: %v", err)
	}
	desc := "described"
	steps := []func() (commands.Result, error){
		func() (commands.Result, error) {
			return projects.Update(ctx, &commands.UpdateProject{Envelope: owner, ProjectID: ids[0], Patch: domain.ProjectPatch{Description: &desc}})
		},
		func() (commands.Result, error) {
			return projects.LinkCircle(ctx, &commands.LinkProjectCircle{Envelope: owner, ProjectID: ids[0], CircleID: circleID})
		},
		func() (commands.Result, error) {
			return projects.LinkCircle(ctx, &commands.LinkProjectCircle{Envelope: owner, ProjectID: ids[1], CircleID: circleID})
		},
		func() (commands.Result, error) {
			return projects.UnlinkCircle(ctx, &commands.UnlinkProjectCircle{Envelope: owner, ProjectID: ids[1], CircleID: circleID})
		},
		func() (commands.Result, error) {
			return projects.Archive(ctx, &commands.ArchiveProject{Envelope: owner, ProjectID: ids[4]})
		},
	}
	for _, step := range steps {
		if last, err = step(); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The project read joins the circles read model: both must have caught up.
	for _, name := range []string{"projects", "circles"} {
		if err := projections.NewWaiter(e.db.SQL, e.notifier).WaitFor(wctx, name, last.Cursor()); err != nil {
			t.Fatal(err)
		}
	}
	reads := projections.NewProjectQueries(e.db.SQL)
	got, err := reads.ByID(ctx, ids[0])
	if err != nil || got.Description != desc || got.Version != 3 || got.TechStack[0] != "go" || len(got.Circles) != 1 ||
		got.Circles[0].Name != "builders" || !got.Circles[0].CircleExists {
		t.Fatalf("project 0: %+v %v", got, err)
	}
	if got, _ := reads.ByID(ctx, ids[1]); len(got.Circles) != 0 || got.Version != 3 {
		t.Fatalf("project 1 after unlink: %+v", got)
	}
	active, next, err := reads.List(ctx, projections.ProjectFilter{Owner: "u1", Status: "active", Limit: 3})
	if err != nil || len(active) != 3 || next != "project-2" {
		t.Fatalf("first page: %d %q %v", len(active), next, err)
	}
	rest, next, _ := reads.List(ctx, projections.ProjectFilter{Owner: "u1", Status: "active", After: next, Limit: 3})
	if len(rest) != 1 || rest[0].Name != "project-3" || next != "" {
		t.Fatalf("second page: %+v %q", rest, next)
	}
	if others, _, _ := reads.List(ctx, projections.ProjectFilter{Owner: "u2", Limit: 10}); len(others) != 0 {
		t.Fatalf("another owner's list: %+v", others)
	}

	sum, err := live.Checksum(ctx, e.db.SQL)
	if err != nil || sum.Rows != 5 {
		t.Fatalf("live checksum: %+v %v", sum, err)
	}
	if _, err := e.db.SQL.Exec(`UPDATE projects SET description = 'corrupted'; DELETE FROM project_circles`); err != nil {
		t.Fatal(err)
	}
	first, err := projections.Replay(ctx, e.store, live)
	if err != nil {
		t.Fatal(err)
	}
	second, err := projections.Replay(ctx, e.store, live)
	if err != nil {
		t.Fatal(err)
	}
	if first.Checksum != sum || second.Checksum != sum {
		t.Fatalf("live %+v, first replay %+v, second %+v", sum, first, second)
	}
	if after, _ := live.Checksum(ctx, e.db.SQL); after != sum {
		t.Fatalf("swapped-in model %+v differs from the original %+v", after, sum)
	}
}
