// Package workspace is the file and git layer of project workspaces: a directory on disk whose
// files users list, read, write, search and commit. It knows nothing of HTTP, events or the
// database; the layers above call it with user-supplied paths and get *domain.Error values back.
//
// Two gates stand between a user's path and the disk. pathsafe.Rel turns hostile input into a
// clear refusal before anything happens; os.Root then opens every file beneath the root, so a
// symlink swapped in between the check and the open still cannot lead outside. Git metadata
// (.git) is reachable only through the Git* methods: a user able to write .git/config could make
// the next git command run a program of their choosing (core.fsmonitor, filters, hooks).
package workspace

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pathsafe"
)

// dirPerm keeps workspaces private to the service's user and group.
const dirPerm = 0o750

// Workspace is a directory on disk. It holds no open resources: each call opens its own os.Root,
// so a Workspace can be built per request from a stored root and dropped without closing, and
// it is safe for concurrent use.
type Workspace struct {
	root     string // absolute and clean, as given
	realRoot string // root with symlinks resolved, for comparing against resolved paths
}

// Open returns the workspace rooted at root, which must be an absolute path to an existing
// directory.
func Open(root string) (*Workspace, error) {
	if !filepath.IsAbs(root) {
		return nil, &domain.Error{Code: domain.CodeInvalid, Message: "workspace root must be an absolute path",
			Fields: []domain.FieldError{{Field: "root", Message: "must be an absolute path"}}}
	}
	root = filepath.Clean(root)
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &domain.Error{Code: domain.CodeNotFound, Message: "workspace root does not exist", Err: err}
	case err != nil:
		return nil, &domain.Error{Code: domain.CodeInternal, Message: "workspace root is not usable", Err: err}
	case !fi.IsDir():
		return nil, domain.Errorf(domain.CodeConflict, "workspace root is not a directory")
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInternal, Message: "workspace root is not usable", Err: err}
	}
	return &Workspace{root: root, realRoot: real}, nil
}

// Create makes root (and its parents) if needed and opens it.
func Create(root string) (*Workspace, error) {
	if !filepath.IsAbs(root) {
		return Open(root) // for its error
	}
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fsError(".", err)
	}
	return Open(root)
}

// Root returns the workspace's root directory as given to Open or Create.
func (w *Workspace) Root() string { return w.root }

// openRoot is taken per call rather than held, so a Workspace owns nothing that needs closing.
func (w *Workspace) openRoot() (*os.Root, error) {
	r, err := os.OpenRoot(w.root)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInternal, Message: "workspace root is not usable", Err: err}
	}
	return r, nil
}

// resolve validates a user path and returns it relative to the root, slash-separated ("." for
// the root). follow says whether the operation follows a symlink in the last component (reads
// do; writes, moves and deletes act on the link itself), which decides how far the .git check
// must resolve.
func (w *Workspace) resolve(userPath string, follow bool) (string, error) {
	rel, err := pathsafe.Rel(w.root, userPath)
	if err != nil {
		return "", err
	}
	if err := w.checkGitDir(rel, follow); err != nil {
		return "", err
	}
	return rel, nil
}

// checkGitDir refuses paths that name git metadata, either literally or through symlinks that
// git itself may have checked out. Like pathsafe, it is a check, not a lock; unlike escapes,
// only the workspace's own git operations can plant such a link, which keeps the window small.
func (w *Workspace) checkGitDir(rel string, follow bool) error {
	if hasGitSegment(rel) {
		return gitForbidden()
	}
	segs := strings.Split(rel, "/")
	if !follow {
		segs = segs[:len(segs)-1]
	}
	// Only existing components can be links; everything after the first missing one will be
	// created as a plain directory or file, and was checked lexically above.
	n := 0
	for i := range segs {
		if _, err := os.Lstat(filepath.Join(w.root, filepath.Join(segs[:i+1]...))); err != nil {
			break
		}
		n = i + 1
	}
	if n == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(filepath.Join(w.root, filepath.Join(segs[:n]...)))
	if err != nil {
		// A dangling link on the way cannot be proven harmless, so fail closed.
		return fsError(rel, err)
	}
	within, err := filepath.Rel(w.realRoot, real)
	if err != nil {
		return &domain.Error{Code: domain.CodeForbidden, Message: "path cannot be verified",
			Fields: pathField("path cannot be verified"), Err: err}
	}
	if hasGitSegment(filepath.ToSlash(within)) {
		return gitForbidden()
	}
	return nil
}

// hasGitSegment compares case-insensitively because on case-insensitive file systems ".GIT"
// is the same directory, and git itself refuses such names for that reason.
func hasGitSegment(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if isGitName(seg) {
			return true
		}
	}
	return false
}

func isGitName(name string) bool { return strings.EqualFold(name, ".git") }

func gitForbidden() *domain.Error {
	const msg = "git metadata is only reachable through git operations"
	return &domain.Error{Code: domain.CodeForbidden, Message: msg, Fields: pathField(msg)}
}

func pathField(msg string) []domain.FieldError {
	return []domain.FieldError{{Field: "path", Message: msg}}
}

func invalidField(field, msg string) *domain.Error {
	return &domain.Error{Code: domain.CodeInvalid, Message: field + ": " + msg,
		Fields: []domain.FieldError{{Field: field, Message: msg}}}
}

// osName turns a resolved slash path into the form os.Root expects.
func osName(rel string) string { return filepath.FromSlash(rel) }

// errRootEscape is os's unexported "path escapes from parent" error. os.Root returns it when a
// symlink that appeared after pathsafe's check points outside; capturing it once (by asking a
// root for its parent) lets that case be reported as the refusal it is, not as an internal error.
var errRootEscape = sync.OnceValue(func() error {
	r, err := os.OpenRoot(os.TempDir())
	if err != nil {
		return nil
	}
	defer r.Close()
	_, err = r.Lstat("..")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
})

// fsError classifies a file-system error for callers. Messages name only the user's relative
// path, never the root, which is server configuration.
func fsError(rel string, err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	wrap := func(code domain.Code, format string) error {
		return &domain.Error{Code: code, Message: fmt.Sprintf(format, rel), Err: err}
	}
	escape := errRootEscape()
	switch {
	case escape != nil && errors.Is(err, escape), errors.Is(err, syscall.ELOOP):
		msg := "path escapes the workspace"
		return &domain.Error{Code: domain.CodeForbidden, Message: msg, Fields: pathField(msg), Err: err}
	case errors.Is(err, fs.ErrNotExist):
		return wrap(domain.CodeNotFound, "%s does not exist")
	case errors.Is(err, syscall.ENOTDIR):
		return wrap(domain.CodeConflict, "a parent of %s is not a directory")
	case errors.Is(err, syscall.EISDIR):
		return wrap(domain.CodeConflict, "%s is a directory")
	case errors.Is(err, syscall.ENOTEMPTY):
		return wrap(domain.CodeConflict, "directory %s is not empty")
	case errors.Is(err, fs.ErrExist):
		return wrap(domain.CodeConflict, "%s already exists")
	case errors.Is(err, fs.ErrPermission):
		return wrap(domain.CodeForbidden, "permission denied for %s")
	case errors.Is(err, syscall.ENAMETOOLONG):
		return &domain.Error{Code: domain.CodeInvalid, Message: "path is too long", Fields: pathField("path is too long"), Err: err}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return wrap(domain.CodeUnavailable, "no space left to write %s")
	}
	return &domain.Error{Code: domain.CodeInternal, Message: "file operation failed", Err: err}
}

// pathLocks serialise the check-then-rename steps of writes and moves to the same path within
// this process, so two writers holding the same If-Match cannot both win. Striping keeps the
// memory bounded however many paths are touched; an unrelated path sharing a stripe only waits.
var pathLocks [64]sync.Mutex

func lockIndex(w *Workspace, rel string) int {
	h := fnv.New32a()
	h.Write([]byte(w.realRoot))
	h.Write([]byte{0})
	h.Write([]byte(rel))
	return int(h.Sum32() % uint32(len(pathLocks)))
}

// lockPaths locks the stripes of every path in a fixed order, so two moves in opposite
// directions cannot deadlock.
func lockPaths(w *Workspace, rels ...string) (unlock func()) {
	var idx []int
	seen := map[int]bool{}
	for _, rel := range rels {
		i := lockIndex(w, rel)
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	for _, i := range idx {
		pathLocks[i].Lock()
	}
	return func() {
		for k := len(idx) - 1; k >= 0; k-- {
			pathLocks[idx[k]].Unlock()
		}
	}
}

// parentOf is path.Dir for resolved relative paths.
func parentOf(rel string) string { return path.Dir(rel) }
