package domain

import (
	"strings"
	"unicode/utf8"
)

// A project's workspace is a directory on disk (files and a git repository) that people and
// agents change. The files themselves are not in the log, but every change is: each write,
// move, delete and git operation is a workspace.* event on the stream workspace-<project id>,
// recorded after the change was made on disk, so the log says who changed what, when, and
// the feed /ws/workspace/{id} shows it live.
const (
	StreamTypeWorkspace = "workspace"

	WorkspaceFileWritten   = "file_written"
	WorkspaceDirCreated    = "dir_created"
	WorkspaceMoved         = "moved"
	WorkspaceDeleted       = "deleted"
	WorkspaceGitInit       = "git_initialized"
	WorkspaceGitStaged     = "git_staged"
	WorkspaceGitUnstaged   = "git_unstaged"
	WorkspaceGitCommitted  = "git_committed"
	WorkspaceGitCheckedOut = "git_checked_out"
	WorkspaceTerminal      = "terminal_session"
)

// WorkspaceChangeKinds lists the kinds of workspace change, each an event type workspace.<kind>.
var WorkspaceChangeKinds = []string{WorkspaceFileWritten, WorkspaceDirCreated, WorkspaceMoved, WorkspaceDeleted,
	WorkspaceGitInit, WorkspaceGitStaged, WorkspaceGitUnstaged, WorkspaceGitCommitted, WorkspaceGitCheckedOut, WorkspaceTerminal}

// WorkspaceStreamID returns the log stream of a project's workspace.
func WorkspaceStreamID(projectID string) string { return "workspace-" + projectID }

// WorkspaceChange is one recorded change; which fields are set depends on Kind.
type WorkspaceChange struct {
	Kind      string   `json:"kind"`
	Path      string   `json:"path,omitempty"`
	To        string   `json:"to,omitempty"`
	Size      int64    `json:"size,omitempty"`
	SHA256    string   `json:"sha256,omitempty"`
	Created   bool     `json:"created,omitempty"`
	Recursive bool     `json:"recursive,omitempty"`
	Paths     []string `json:"paths,omitempty"`
	Commit    string   `json:"commit,omitempty"`
	Message   string   `json:"message,omitempty"`
	Branch    string   `json:"branch,omitempty"`
	// By is "user:<id>" or "agent:<id>": who made the change (the event's actor says on whose
	// behalf).
	By string `json:"by,omitempty"`
	// Terminal sessions: when one was opened or ended, and how.
	Session    string `json:"session,omitempty"`
	Event      string `json:"event,omitempty"` // opened | closed
	ExitCode   int    `json:"exit_code,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
}

func (c *WorkspaceChange) EventType() string { return "workspace." + c.Kind }

// Workspace is the aggregate of a workspace's history; its only rule is the order of changes.
type Workspace struct {
	ProjectID string
	Version   int64
}

func (w *Workspace) Apply(Event) { w.Version++ }

// Record decides whether change may be recorded.
func (w *Workspace) Record(change WorkspaceChange) ([]Event, error) {
	var v Validation
	known := false
	for _, k := range WorkspaceChangeKinds {
		known = known || k == change.Kind
	}
	if !known {
		v.Add("kind", "unknown workspace change %q", change.Kind)
	}
	if n := utf8.RuneCountInString(change.Message); n > 10000 {
		change.Message = string([]rune(change.Message)[:10000])
	}
	change.Path, change.To = strings.TrimSpace(change.Path), strings.TrimSpace(change.To)
	if err := v.Err(); err != nil {
		return nil, err
	}
	c := change
	return []Event{&c}, nil
}

func workspaceEventSpecs() []EventSpec {
	specs := make([]EventSpec, 0, len(WorkspaceChangeKinds))
	for _, k := range WorkspaceChangeKinds {
		specs = append(specs, EventSpec{Type: "workspace." + k, Version: 1, New: func() Event { return &WorkspaceChange{} }})
	}
	return specs
}
