package httpapi

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/workspace"
)

// A project's workspace is the directory <WorkspacesDir>/<project id>, created on first use.
// Every path a client sends goes through package workspace, which checks it with pathsafe and
// opens files through os.Root; every change is recorded as a workspace.* event after it is made
// (and streamed on /ws/workspace/{id}). Only the project's owner or an admin reaches it.

// openWorkspace returns the workspace of the project in the URL, if the caller may use it.
func (s *Server) openWorkspace(c *fiber.Ctx) (*workspace.Workspace, string, error) {
	if s.deps.WorkspacesDir == "" {
		return nil, "", domain.Errorf(domain.CodeUnavailable, "workspaces are not configured on this server")
	}
	project, err := s.visibleProject(c)
	if err != nil {
		return nil, "", err
	}
	ws, err := workspace.Create(filepath.Join(s.deps.WorkspacesDir, project.ID))
	return ws, project.ID, err
}

// recordChange appends what was just done on disk; the answer waits for it, so a client that
// reads the workspace's history next sees the change.
func (s *Server) recordChange(c *fiber.Ctx, projectID string, change domain.WorkspaceChange) error {
	p, _ := principal(c)
	change.By = "user:" + p.UserID
	_, err := s.deps.Bus.Send(c.UserContext(), &commands.RecordWorkspaceChange{Envelope: envelope(c), ProjectID: projectID, Change: change})
	return err
}

func (s *Server) workspaceTree(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	depth, err := intQuery(c, "depth", 1, 1, workspace.MaxTreeDepth)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", workspace.DefaultTreeLimit, 1, workspace.MaxTreeLimit)
	if err != nil {
		return err
	}
	entries, truncated, err := ws.Tree(pathQuery(c), depth, limit)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []workspace.Entry{}
	}
	return c.JSON(fiber.Map{"items": entries, "truncated": truncated})
}

func pathQuery(c *fiber.Ctx) string {
	if p := c.Query("path"); p != "" {
		return p
	}
	return "."
}

// readFile answers a range of a file as text, or base64 for binary content; never the whole of a
// large file.
func (s *Server) readFile(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	var offset int64
	if c.Query("offset") != "" {
		if offset, err = int64Query(c, "offset"); err != nil {
			return err
		}
	}
	length := int64(workspace.MaxReadBytes)
	if c.Query("length") != "" {
		if length, err = int64Query(c, "length"); err != nil {
			return err
		}
	}
	data, entry, err := ws.Read(c.Query("path"), offset, length)
	if err != nil {
		return err
	}
	out := fiber.Map{"entry": entry, "offset": offset, "length": len(data), "eof": offset+int64(len(data)) >= entry.Size}
	if entry.Binary || !utf8.Valid(data) {
		out["encoding"], out["content"] = "base64", base64.StdEncoding.EncodeToString(data)
	} else {
		out["encoding"], out["content"] = "utf-8", string(data)
	}
	if offset == 0 && int64(len(data)) == entry.Size {
		if out["sha256"], err = ws.Hash(c.Query("path")); err != nil {
			return err
		}
	}
	return c.JSON(out)
}

// downloadFile streams a file as it is, however large.
func (s *Server) downloadFile(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	f, entry, err := ws.Open(c.Query("path"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+strings.ReplaceAll(entry.Name, `"`, "")+`"`)
	return c.SendStream(f, int(entry.Size)) // fasthttp closes f once sent
}

// writeFile stores the request body as the file's new content. If-Match, when sent, is the
// sha256 the client last read: a file changed since then is not overwritten (409).
func (s *Server) writeFile(c *fiber.Ctx) error {
	ws, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	path := c.Query("path")
	_, statErr := ws.Stat(path)
	ifMatch := strings.Trim(c.Get(fiber.HeaderIfMatch), `"`)
	// The body is bounded by the server's body limit; agents' file skills write larger files.
	entry, hash, err := ws.Write(path, bytes.NewReader(c.Body()), workspace.DefaultMaxWriteBytes, ifMatch)
	if err != nil {
		return err
	}
	if err := s.recordChange(c, projectID, domain.WorkspaceChange{Kind: domain.WorkspaceFileWritten, Path: entry.Path,
		Size: entry.Size, SHA256: hash, Created: statErr != nil}); err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, `"`+hash+`"`)
	return c.JSON(fiber.Map{"entry": entry, "sha256": hash})
}

func (s *Server) makeDir(c *fiber.Ctx) error {
	var in struct {
		Path string `json:"path"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ws, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	entry, err := ws.Mkdir(in.Path)
	if err != nil {
		return err
	}
	if err := s.recordChange(c, projectID, domain.WorkspaceChange{Kind: domain.WorkspaceDirCreated, Path: entry.Path}); err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(entry)
}

func (s *Server) moveFile(c *fiber.Ctx) error {
	var in struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ws, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	if err := ws.Move(in.From, in.To); err != nil {
		return err
	}
	entry, err := ws.Stat(in.To)
	if err != nil {
		return err
	}
	if err := s.recordChange(c, projectID, domain.WorkspaceChange{Kind: domain.WorkspaceMoved, Path: cleanRel(in.From), To: entry.Path}); err != nil {
		return err
	}
	return c.JSON(entry)
}

// cleanRel is the display form of a path already accepted by the workspace.
func cleanRel(p string) string {
	p = filepath.ToSlash(filepath.Clean("/" + p))
	return strings.TrimPrefix(p, "/")
}

func (s *Server) deleteFile(c *fiber.Ctx) error {
	ws, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	recursive := c.Query("recursive") == "true"
	path := c.Query("path")
	entry, err := ws.Stat(path)
	if err != nil {
		return err
	}
	if err := ws.Delete(path, recursive); err != nil {
		return err
	}
	if err := s.recordChange(c, projectID, domain.WorkspaceChange{Kind: domain.WorkspaceDeleted, Path: entry.Path, Recursive: recursive}); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) searchFiles(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", workspace.DefaultSearchResults, 1, workspace.MaxSearchResults)
	if err != nil {
		return err
	}
	matches, truncated, err := ws.Search(c.UserContext(), pathQuery(c), c.Query("q"), c.Query("glob"), limit)
	if err != nil {
		return err
	}
	if matches == nil {
		matches = []workspace.Match{}
	}
	return c.JSON(fiber.Map{"items": matches, "truncated": truncated})
}

func (s *Server) gitStatus(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	st, err := ws.GitStatus(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) gitDiff(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	diff, truncated, err := ws.GitDiff(c.UserContext(), c.Query("path"), c.Query("staged") == "true")
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"diff": diff, "truncated": truncated})
}

func (s *Server) gitLog(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", workspace.DefaultLogLimit, 1, workspace.MaxLogLimit)
	if err != nil {
		return err
	}
	commits, err := ws.GitLog(c.UserContext(), limit)
	if err != nil {
		return err
	}
	if commits == nil {
		commits = []workspace.Commit{}
	}
	return c.JSON(fiber.Map{"items": commits})
}

func (s *Server) gitBranches(c *fiber.Ctx) error {
	ws, _, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	branches, err := ws.GitBranches(c.UserContext())
	if err != nil {
		return err
	}
	if branches == nil {
		branches = []workspace.Branch{}
	}
	return c.JSON(fiber.Map{"items": branches})
}

// gitAction runs one of the git writes: init, stage, unstage, commit, checkout.
func (s *Server) gitAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in struct {
			Paths   []string `json:"paths"`
			Message string   `json:"message"`
			Branch  string   `json:"branch"`
			Create  bool     `json:"create"`
		}
		if len(c.Body()) > 0 {
			if err := decodeJSON(c, &in); err != nil {
				return err
			}
		}
		ws, projectID, err := s.openWorkspace(c)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		change := domain.WorkspaceChange{}
		var answer any = fiber.Map{"ok": true}
		switch action {
		case "init":
			err = ws.GitInit(ctx)
			change.Kind = domain.WorkspaceGitInit
		case "stage", "unstage":
			if len(in.Paths) == 0 {
				return invalid("paths", "name at least one path")
			}
			if action == "stage" {
				err, change.Kind = ws.GitStage(ctx, in.Paths), domain.WorkspaceGitStaged
			} else {
				err, change.Kind = ws.GitUnstage(ctx, in.Paths), domain.WorkspaceGitUnstaged
			}
			change.Paths = in.Paths
		case "commit":
			if strings.TrimSpace(in.Message) == "" {
				return invalid("message", "is required")
			}
			p, _ := principal(c)
			name, email := s.authorOf(c, p.UserID)
			var commit workspace.Commit
			commit, err = ws.GitCommit(ctx, in.Message, name, email)
			change = domain.WorkspaceChange{Kind: domain.WorkspaceGitCommitted, Commit: commit.Hash, Message: in.Message}
			answer = commit
		case "checkout":
			if in.Branch == "" {
				return invalid("branch", "is required")
			}
			err = ws.GitCheckout(ctx, in.Branch, in.Create)
			change = domain.WorkspaceChange{Kind: domain.WorkspaceGitCheckedOut, Branch: in.Branch, Created: in.Create}
		}
		if err != nil {
			return err
		}
		if err := s.recordChange(c, projectID, change); err != nil {
			return err
		}
		return c.JSON(answer)
	}
}

// authorOf is the commit author for a user: their display name or email.
func (s *Server) authorOf(c *fiber.Ctx, userID string) (string, string) {
	u, err := s.deps.Users.ByID(c.UserContext(), userID)
	if err != nil || u.Email == "" {
		return "GatheRing user " + userID, "user-" + userID + "@gathering.invalid"
	}
	name := u.Name
	if name == "" {
		name = u.Email
	}
	return name, u.Email
}

// workspaceFeed streams a workspace's changes live.
func (s *Server) workspaceFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		s.serveFeed(conn, []string{"workspaces:" + conn.Params("id")}, nil)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		if _, err := s.visibleProject(c); err != nil {
			return err
		}
		return ws(c)
	}
}
