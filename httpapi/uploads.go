package httpapi

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/workspace"
)

// Files larger than one request body reach a workspace in chunks: an upload is a temporary file
// of the server's, grown chunk by chunk at the offset the client says (so a retried chunk is
// harmless), then written into the workspace in one atomic, streamed write — the file is never
// held whole in memory. Uploads live in this instance, for at most uploadTTL.

const uploadTTL = time.Hour

type upload struct {
	project, user, path string
	file                string
	size                int64
	touched             time.Time
}

type uploads struct {
	mu sync.Mutex
	m  map[string]*upload
}

func (u *uploads) get(id, project, user string) (*upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, v := range u.m { // expired uploads go on any access
		if time.Since(v.touched) > uploadTTL {
			_ = os.Remove(v.file)
			delete(u.m, k)
		}
	}
	up, ok := u.m[id]
	if !ok || up.project != project || up.user != user {
		return nil, domain.Errorf(domain.CodeNotFound, "upload not found")
	}
	return up, nil
}

func (s *Server) startUpload(c *fiber.Ctx) error {
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
	// The destination is checked now, so a bad path fails before any byte is sent.
	if _, _, err := ws.Read(in.Path, 0, 0); err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
		return err
	}
	dir := filepath.Join(os.TempDir(), "gathering-uploads")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	id := uuid.NewString()
	f, err := os.OpenFile(filepath.Join(dir, id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_ = f.Close()
	p, _ := principal(c)
	s.uploads.mu.Lock()
	if s.uploads.m == nil {
		s.uploads.m = map[string]*upload{}
	}
	s.uploads.m[id] = &upload{project: projectID, user: p.UserID, path: in.Path, file: f.Name(), touched: time.Now()}
	s.uploads.mu.Unlock()
	return c.Status(http.StatusCreated).JSON(fiber.Map{"upload_id": id, "path": in.Path, "size": 0, "max_bytes": workspace.DefaultMaxWriteBytes})
}

func (s *Server) uploadChunk(c *fiber.Ctx) error {
	_, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	up, err := s.uploads.get(c.Params("upload"), projectID, p.UserID)
	if err != nil {
		return err
	}
	offset, err := int64Query(c, "offset")
	if err != nil {
		return err
	}
	s.uploads.mu.Lock()
	defer s.uploads.mu.Unlock()
	chunk := c.Body()
	switch {
	case offset+int64(len(chunk)) <= up.size:
		// A retried chunk: harmless if it is what was stored; anything else is a mistake.
		same, err := sameBytes(up.file, offset, chunk)
		if err != nil {
			return err
		}
		if !same {
			return &domain.Error{Code: domain.CodeConflict, Message: "these bytes differ from the ones already uploaded at this offset",
				Fields: []domain.FieldError{{Field: "offset", Message: "expected " + itoa(up.size)}}}
		}
	case offset != up.size:
		return &domain.Error{Code: domain.CodeConflict, Message: "the upload has " + itoa(up.size) + " bytes; send the chunk at that offset",
			Fields: []domain.FieldError{{Field: "offset", Message: "expected " + itoa(up.size)}}}
	case up.size+int64(len(chunk)) > workspace.DefaultMaxWriteBytes:
		return invalid("body", "the file would exceed "+itoa(workspace.DefaultMaxWriteBytes)+" bytes")
	default:
		f, err := os.OpenFile(up.file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		n, err := f.Write(chunk)
		up.size += int64(n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	up.touched = time.Now()
	return c.JSON(fiber.Map{"upload_id": c.Params("upload"), "size": up.size})
}

// completeUpload writes the uploaded bytes into the workspace (If-Match: the sha256 of the
// version replaced, when the client read one) and records the change.
func (s *Server) completeUpload(c *fiber.Ctx) error {
	ws, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	up, err := s.uploads.get(c.Params("upload"), projectID, p.UserID)
	if err != nil {
		return err
	}
	f, err := os.Open(up.file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, statErr := ws.Stat(up.path)
	entry, hash, err := ws.Write(up.path, f, workspace.DefaultMaxWriteBytes, strings.Trim(c.Get(fiber.HeaderIfMatch), `"`))
	if err != nil {
		return err
	}
	s.dropUpload(c.Params("upload"))
	if err := s.recordChange(c, projectID, domain.WorkspaceChange{Kind: domain.WorkspaceFileWritten, Path: entry.Path,
		Size: entry.Size, SHA256: hash, Created: statErr != nil}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entry": entry, "sha256": hash})
}

func (s *Server) abortUpload(c *fiber.Ctx) error {
	_, projectID, err := s.openWorkspace(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if _, err := s.uploads.get(c.Params("upload"), projectID, p.UserID); err != nil {
		return err
	}
	s.dropUpload(c.Params("upload"))
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) dropUpload(id string) {
	s.uploads.mu.Lock()
	defer s.uploads.mu.Unlock()
	if up, ok := s.uploads.m[id]; ok {
		_ = os.Remove(up.file)
		delete(s.uploads.m, id)
	}
}

// sameBytes reports whether the upload holds chunk at offset.
func sameBytes(file string, offset int64, chunk []byte) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	stored := make([]byte, len(chunk))
	if _, err := f.ReadAt(stored, offset); err != nil {
		return false, err
	}
	return bytes.Equal(stored, chunk), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
