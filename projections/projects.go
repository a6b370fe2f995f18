package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Projects is the projection behind /projects.
type Projects struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewProjects returns the projects projection.
func NewProjects(events *domain.Registry) *Projects { return &Projects{q: dbq.New(), events: events} }

func (*Projects) Name() string     { return "projects" }
func (*Projects) Tables() []string { return []string{"projects", "project_circles"} }

func (p *Projects) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	if e.StreamType != domain.StreamTypeProject {
		return nil
	}
	id, err := uuid.Parse(e.StreamID[len("project-"):])
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	touch := func(status domain.ProjectStatus) error {
		return p.q.TouchProject(ctx, q, dbq.TouchProjectParams{ID: id, Status: sql.NullString{String: string(status), Valid: status != ""},
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	}
	switch ev := ev.(type) {
	case *domain.ProjectCreated:
		tech, langs, fws, err := tagsJSON(ev.ProjectSpec)
		if err != nil {
			return err
		}
		return p.q.InsertProject(ctx, q, dbq.InsertProjectParams{ID: id, Name: ev.Name, DisplayName: ev.DisplayName,
			Description: ev.Description, RepositoryUrl: ev.RepositoryURL, DefaultBranch: ev.DefaultBranch, TechStack: tech,
			Languages: langs, Frameworks: fws, Conventions: ev.Conventions, Owner: ev.Owner,
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ProjectUpdated:
		tech, langs, fws, err := tagsJSON(ev.ProjectSpec)
		if err != nil {
			return err
		}
		return p.q.UpdateProjectSpec(ctx, q, dbq.UpdateProjectSpecParams{ID: id, DisplayName: ev.DisplayName,
			Description: ev.Description, RepositoryUrl: ev.RepositoryURL, DefaultBranch: ev.DefaultBranch, TechStack: tech,
			Languages: langs, Frameworks: fws, Conventions: ev.Conventions,
			Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.ProjectCircleLinked:
		circle, err := uuid.Parse(ev.CircleID)
		if err != nil {
			return err
		}
		if err := p.q.InsertProjectCircle(ctx, q, dbq.InsertProjectCircleParams{ProjectID: id, CircleID: circle, At: e.OccurredAt}); err != nil {
			return err
		}
		return touch("")
	case *domain.ProjectCircleUnlinked:
		circle, err := uuid.Parse(ev.CircleID)
		if err != nil {
			return err
		}
		if err := p.q.DeleteProjectCircle(ctx, q, dbq.DeleteProjectCircleParams{ProjectID: id, CircleID: circle}); err != nil {
			return err
		}
		return touch("")
	case *domain.ProjectArchived:
		return touch(domain.ProjectStatusArchived)
	}
	return nil
}

func tagsJSON(s domain.ProjectSpec) (tech, langs, fws []byte, err error) {
	enc := func(v []string) []byte {
		if err != nil {
			return nil
		}
		if v == nil {
			v = []string{}
		}
		var b []byte
		b, err = json.Marshal(v)
		return b
	}
	tech, langs, fws = enc(s.TechStack), enc(s.Languages), enc(s.Frameworks)
	return tech, langs, fws, err
}

func (p *Projects) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.ProjectsChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// ProjectCircleView is a linked circle with its name.
type ProjectCircleView struct {
	CircleID     string    `json:"circle_id"`
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	Owner        string    `json:"owner"`
	LinkedAt     time.Time `json:"linked_at"`
	CircleExists bool      `json:"circle_exists"`
}

// ProjectView is a project as the API shows it.
type ProjectView struct {
	ID            string              `json:"id"`
	Name          string              `json:"name"`
	DisplayName   string              `json:"display_name"`
	Description   string              `json:"description"`
	RepositoryURL string              `json:"repository_url"`
	DefaultBranch string              `json:"default_branch"`
	TechStack     []string            `json:"tech_stack"`
	Languages     []string            `json:"languages"`
	Frameworks    []string            `json:"frameworks"`
	Conventions   string              `json:"conventions"`
	Owner         string              `json:"owner"`
	Status        string              `json:"status"`
	Version       int64               `json:"version"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
	Circles       []ProjectCircleView `json:"circles,omitempty"`
}

// ProjectFilter selects projects; empty fields do not filter.
type ProjectFilter struct {
	Owner  string
	Status string
	After  string // the name of the last project of the previous page
	Limit  int
}

// ProjectQueries reads the projects read model.
type ProjectQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewProjectQueries returns project queries on db.
func NewProjectQueries(db *sql.DB) *ProjectQueries { return &ProjectQueries{db: db, q: dbq.New()} }

func projectView(r dbq.Project) (ProjectView, error) {
	v := ProjectView{ID: r.ID.String(), Name: r.Name, DisplayName: r.DisplayName, Description: r.Description,
		RepositoryURL: r.RepositoryUrl, DefaultBranch: r.DefaultBranch, Conventions: r.Conventions, Owner: r.Owner,
		Status: r.Status, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	for _, f := range []struct {
		raw []byte
		dst *[]string
	}{{r.TechStack, &v.TechStack}, {r.Languages, &v.Languages}, {r.Frameworks, &v.Frameworks}} {
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return v, err
		}
	}
	return v, nil
}

// ByID returns a project with its linked circles.
func (p *ProjectQueries) ByID(ctx context.Context, id string) (ProjectView, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return ProjectView{}, domain.Errorf(domain.CodeNotFound, "project %s not found", id)
	}
	r, err := p.q.GetProject(ctx, p.db, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return ProjectView{}, domain.Errorf(domain.CodeNotFound, "project %s not found", id)
	}
	if err != nil {
		return ProjectView{}, err
	}
	v, err := projectView(dbq.Project(r))
	if err != nil {
		return v, err
	}
	if v.Circles, err = p.Circles(ctx, uid); err != nil {
		return v, err
	}
	if len(v.Circles) == 0 {
		v.Circles = nil
	}
	return v, nil
}

// Circles returns the circles linked to a project, with their names.
func (p *ProjectQueries) Circles(ctx context.Context, projectID uuid.UUID) ([]ProjectCircleView, error) {
	rows, err := p.q.ProjectCirclesWithNames(ctx, p.db, projectID)
	if err != nil {
		return nil, err
	}
	out := make([]ProjectCircleView, 0, len(rows))
	for _, r := range rows {
		out = append(out, ProjectCircleView{CircleID: r.CircleID.String(), Name: r.CircleName, Status: r.CircleStatus,
			Owner: r.CircleOwner, LinkedAt: r.LinkedAt.UTC(), CircleExists: r.CircleExists})
	}
	return out, nil
}

// List returns projects by name, one page at a time; next is the name to continue after, or ""
// on the last page.
func (p *ProjectQueries) List(ctx context.Context, f ProjectFilter) (items []ProjectView, next string, err error) {
	rows, err := p.q.ListProjects(ctx, p.db, dbq.ListProjectsParams{Owner: nullString(f.Owner), Status: nullString(f.Status),
		AfterName: nullString(f.After), MaxRows: int32(f.Limit + 1)})
	if err != nil {
		return nil, "", err
	}
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].Name
	}
	items = make([]ProjectView, 0, len(rows))
	for _, r := range rows {
		v, err := projectView(dbq.Project(r))
		if err != nil {
			return nil, "", err
		}
		items = append(items, v)
	}
	return items, next, nil
}
