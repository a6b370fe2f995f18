package commands

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

type CreateProject struct {
	Envelope
	ProjectID string             `json:"project_id"`
	Spec      domain.ProjectSpec `json:"spec"`
}

// UpdateProject changes some of a project's fields.
type UpdateProject struct {
	Envelope
	ProjectID string              `json:"project_id"`
	Patch     domain.ProjectPatch `json:"patch"`
}

// LinkProjectCircle links a circle the caller may use (the caller checks) to a project.
type LinkProjectCircle struct {
	Envelope
	ProjectID string `json:"project_id"`
	CircleID  string `json:"circle_id"`
}

type UnlinkProjectCircle struct {
	Envelope
	ProjectID string `json:"project_id"`
	CircleID  string `json:"circle_id"`
}

type ArchiveProject struct {
	Envelope
	ProjectID string `json:"project_id"`
}

// Projects holds the project use cases.
type Projects struct{ repo *Repository }

// RegisterProjects adds the project command handlers to the bus.
func RegisterProjects(b *Bus, repo *Repository) *Projects {
	p := &Projects{repo: repo}
	handle(b, "projects.create", p.Create)
	handle(b, "projects.update", p.Update)
	handle(b, "projects.link_circle", p.LinkCircle)
	handle(b, "projects.unlink_circle", p.UnlinkCircle)
	handle(b, "projects.archive", p.Archive)
	return p
}

func newProject() *domain.Project { return &domain.Project{} }

func projectChange(id string, env Envelope) change {
	return change{streamID: domain.ProjectStreamID(id), streamType: domain.StreamTypeProject, env: env}
}

// ErrProjectNameTaken answers a second project with the same name.
var ErrProjectNameTaken = &domain.Error{Code: domain.CodeConflict, Message: "name: a project with this name exists",
	Fields: []domain.FieldError{{Field: "name", Message: "a project with this name exists"}}}

func (p *Projects) Create(ctx context.Context, cmd *CreateProject) (Result, error) {
	id, err := uuid.Parse(cmd.ProjectID)
	if err != nil {
		return Result{}, domain.Errorf(domain.CodeInternal, "project id %q is not a uuid", cmd.ProjectID)
	}
	ch := projectChange(cmd.ProjectID, cmd.Envelope)
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, appended []eventlog.Event) error {
		var created domain.ProjectCreated
		if err := jsonUnmarshal(appended[0].Payload, &created); err != nil {
			return err
		}
		n, err := p.repo.q.ClaimProjectName(ctx, tx, dbq.ClaimProjectNameParams{Name: created.Name, ProjectID: id})
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrProjectNameTaken
		}
		return nil
	}
	return execute(ctx, p.repo, ch, newProject, func(agg *domain.Project) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.ProjectID, cmd.Spec)
	})
}

func (p *Projects) Update(ctx context.Context, cmd *UpdateProject) (Result, error) {
	if strings.TrimSpace(cmd.ProjectID) == "" {
		return Result{}, domain.Errorf(domain.CodeNotFound, "project not found")
	}
	return execute(ctx, p.repo, projectChange(cmd.ProjectID, cmd.Envelope), newProject, func(agg *domain.Project) ([]domain.Event, error) {
		return agg.Update(cmd.actor(), cmd.Patch)
	})
}

func (p *Projects) LinkCircle(ctx context.Context, cmd *LinkProjectCircle) (Result, error) {
	// The read model keys links by uuid: anything else would stop the projection for good.
	if _, err := uuid.Parse(cmd.CircleID); err != nil {
		return Result{}, &domain.Error{Code: domain.CodeInvalid, Message: "circle: no such circle",
			Fields: []domain.FieldError{{Field: "circle", Message: "no such circle"}}}
	}
	return execute(ctx, p.repo, projectChange(cmd.ProjectID, cmd.Envelope), newProject, func(agg *domain.Project) ([]domain.Event, error) {
		return agg.LinkCircle(cmd.actor(), cmd.CircleID)
	})
}

func (p *Projects) UnlinkCircle(ctx context.Context, cmd *UnlinkProjectCircle) (Result, error) {
	return execute(ctx, p.repo, projectChange(cmd.ProjectID, cmd.Envelope), newProject, func(agg *domain.Project) ([]domain.Event, error) {
		return agg.UnlinkCircle(cmd.actor(), cmd.CircleID)
	})
}

func (p *Projects) Archive(ctx context.Context, cmd *ArchiveProject) (Result, error) {
	return execute(ctx, p.repo, projectChange(cmd.ProjectID, cmd.Envelope), newProject, func(agg *domain.Project) ([]domain.Event, error) {
		return agg.Archive(cmd.actor())
	})
}

// LoadProject rebuilds a project from its stream, for rules of other aggregates that need the
// freshest state (which circles a project is linked to).
func (r *Repository) LoadProject(ctx context.Context, id string) (*domain.Project, error) {
	p, _, err := loadAggregate(ctx, r, domain.ProjectStreamID(id), newProject)
	return p, err
}
