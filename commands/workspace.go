package commands

import (
	"context"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
)

// RecordWorkspaceChange appends a change made in a project's workspace (on disk already).
type RecordWorkspaceChange struct {
	Envelope
	ProjectID string                 `json:"project_id"`
	Change    domain.WorkspaceChange `json:"change"`
}

// Workspaces holds the workspace use cases.
type Workspaces struct{ repo *Repository }

// RegisterWorkspaces adds the workspace command handlers to the bus.
func RegisterWorkspaces(b *Bus, repo *Repository) *Workspaces {
	w := &Workspaces{repo: repo}
	handle(b, "workspaces.record", w.Record)
	return w
}

func (w *Workspaces) Record(ctx context.Context, cmd *RecordWorkspaceChange) (Result, error) {
	ch := change{streamID: domain.WorkspaceStreamID(cmd.ProjectID), streamType: domain.StreamTypeWorkspace, env: cmd.Envelope}
	return execute(ctx, w.repo, ch, func() *domain.Workspace { return &domain.Workspace{ProjectID: cmd.ProjectID} },
		func(agg *domain.Workspace) ([]domain.Event, error) { return agg.Record(cmd.Change) })
}

// LoadWorkspace returns a workspace's recorded changes.
func (r *Repository) LoadWorkspace(ctx context.Context, projectID string) (*domain.Workspace, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.WorkspaceStreamID(projectID), func() *domain.Workspace { return &domain.Workspace{ProjectID: projectID} })
}
