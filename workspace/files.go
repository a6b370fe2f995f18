package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
)

const (
	// MaxReadBytes bounds one Read, so a request for a huge file cannot make the server hold
	// it in memory; larger files are read in ranges or streamed with Open.
	MaxReadBytes = 1 << 20
	// DefaultMaxWriteBytes applies when Write is given no limit of its own.
	DefaultMaxWriteBytes = 64 << 20
	// DefaultTreeLimit and MaxTreeLimit bound how many entries one Tree call returns.
	DefaultTreeLimit = 1000
	MaxTreeLimit     = 10000
	// MaxTreeDepth keeps a deep (or adversarially nested) tree from turning one listing into a
	// crawl of the whole disk.
	MaxTreeDepth = 64
	// sniffLen is how much of a file decides whether it is binary; git looks at about as much.
	sniffLen = 8 << 10
	// maxDirScan bounds the entries read from one directory by Tree: entries are sorted, so a
	// directory with millions of them would otherwise be read whole for a short listing.
	maxDirScan = MaxTreeLimit + 1
	tempPrefix = ".gathering-tmp-"
)

// Entry describes a file or directory. For a symlink, Dir, Size and Mode describe its target
// when the target is inside the workspace, and the link itself when it dangles or leads out.
type Entry struct {
	Path    string    `json:"path"` // relative to the root, slash-separated; "." is the root
	Name    string    `json:"name"`
	Dir     bool      `json:"dir"`
	Size    int64     `json:"size"` // regular files only
	ModTime time.Time `json:"mod_time"`
	Mode    string    `json:"mode"` // as ls shows it, e.g. "-rw-r--r--"
	Symlink bool      `json:"symlink"`
	// Binary is set for files whose first 8 KiB hold a NUL byte or invalid UTF-8. Tree leaves
	// it unset: sniffing would read from every file listed.
	Binary bool `json:"binary"`
}

// describe builds the entry of rel from its Lstat info, following a symlink through r (so a
// link that leads out of the root is described as a link, never followed outside).
func describe(r *os.Root, rel string, lfi fs.FileInfo) (Entry, fs.FileInfo) {
	e := Entry{Path: rel, Name: path.Base(rel), Symlink: lfi.Mode()&fs.ModeSymlink != 0}
	fi := lfi
	if e.Symlink {
		if t, err := r.Stat(osName(rel)); err == nil {
			fi = t
		}
	}
	e.Dir = fi.IsDir()
	if fi.Mode().IsRegular() {
		e.Size = fi.Size()
	}
	e.ModTime = fi.ModTime()
	e.Mode = fi.Mode().String()
	return e, fi
}

// isBinary reports whether head, the start of a file, is not text. cut says head stopped at the
// sniff limit, where a multi-byte character may have been split.
func isBinary(head []byte, cut bool) bool {
	if len(head) == 0 {
		return false
	}
	for _, c := range head {
		if c == 0 {
			return true
		}
	}
	if cut {
		for i := 1; i < utf8.UTFMax && i <= len(head); i++ {
			if utf8.RuneStart(head[len(head)-i]) {
				if !utf8.FullRune(head[len(head)-i:]) {
					head = head[:len(head)-i]
				}
				break
			}
		}
	}
	return !utf8.Valid(head)
}

// openRegular opens rel for reading through r and refuses anything but a regular file.
// O_NONBLOCK keeps a FIFO swapped in after a Stat from blocking the open forever; it has no
// effect on regular files.
func openRegular(r *os.Root, rel string) (*os.File, Entry, error) {
	name := osName(rel)
	lfi, err := r.Lstat(name)
	if err != nil {
		return nil, Entry{}, fsError(rel, err)
	}
	f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, Entry{}, fsError(rel, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Entry{}, fsError(rel, err)
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, Entry{}, domain.Errorf(domain.CodeConflict, "%s is a directory", rel)
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, Entry{}, domain.Errorf(domain.CodeConflict, "%s is not a regular file", rel)
	}
	e := Entry{Path: rel, Name: path.Base(rel), Size: fi.Size(), ModTime: fi.ModTime(),
		Mode: fi.Mode().String(), Symlink: lfi.Mode()&fs.ModeSymlink != 0}
	head := make([]byte, sniffLen)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, Entry{}, fsError(rel, err)
	}
	e.Binary = isBinary(head[:n], n == sniffLen)
	return f, e, nil
}

// Stat describes one path. A symlink is followed when its target is inside the workspace.
func (w *Workspace) Stat(p string) (Entry, error) {
	rel, err := w.resolve(p, true)
	if err != nil {
		return Entry{}, err
	}
	r, err := w.openRoot()
	if err != nil {
		return Entry{}, err
	}
	defer r.Close()
	lfi, err := r.Lstat(osName(rel))
	if err != nil {
		return Entry{}, fsError(rel, err)
	}
	e, fi := describe(r, rel, lfi)
	if fi.Mode().IsRegular() {
		f, fe, err := openRegular(r, rel)
		if err != nil {
			return Entry{}, err
		}
		f.Close()
		e.Binary = fe.Binary
	}
	return e, nil
}

// Read returns up to length bytes of a file from offset (capped at MaxReadBytes; length <= 0
// asks for the cap). Reading past the end returns no data and no error. Only the requested
// range is loaded, whatever the size of the file.
func (w *Workspace) Read(p string, offset, length int64) ([]byte, Entry, error) {
	if offset < 0 {
		return nil, Entry{}, invalidField("offset", "must not be negative")
	}
	if length <= 0 || length > MaxReadBytes {
		length = MaxReadBytes
	}
	rel, err := w.resolve(p, true)
	if err != nil {
		return nil, Entry{}, err
	}
	r, err := w.openRoot()
	if err != nil {
		return nil, Entry{}, err
	}
	defer r.Close()
	f, e, err := openRegular(r, rel)
	if err != nil {
		return nil, Entry{}, err
	}
	defer f.Close()
	if offset >= e.Size {
		return []byte{}, e, nil
	}
	buf := make([]byte, min(length, e.Size-offset))
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: the file shrank since its Stat
		return nil, Entry{}, fsError(rel, err)
	}
	return buf[:n], e, nil
}

// Open opens a regular file for streaming (a raw download). The caller closes the file.
func (w *Workspace) Open(p string) (*os.File, Entry, error) {
	rel, err := w.resolve(p, true)
	if err != nil {
		return nil, Entry{}, err
	}
	r, err := w.openRoot()
	if err != nil {
		return nil, Entry{}, err
	}
	// The file descriptor stays valid after its root is closed.
	defer r.Close()
	return openRegular(r, rel)
}

// Hash returns the SHA-256 (hex) of a file's content: the value Write takes as ifMatch.
func (w *Workspace) Hash(p string) (string, error) {
	rel, err := w.resolve(p, true)
	if err != nil {
		return "", err
	}
	r, err := w.openRoot()
	if err != nil {
		return "", err
	}
	defer r.Close()
	return hashFile(r, rel)
}

func hashFile(r *os.Root, rel string) (string, error) {
	f, _, err := openRegular(r, rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fsError(rel, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Write replaces (or creates) a file with content, streaming it to a temporary file in the same
// directory and renaming it into place, so readers see the old or the new content and never a
// part. Missing parent directories are created. Content longer than maxBytes (<= 0:
// DefaultMaxWriteBytes) is refused and nothing changes. A non-empty ifMatch must equal the
// current content's hash (see Hash), else domain.CodeVersionConflict. A symlink at p is
// replaced by the file, not written through. It returns the new entry and content hash.
func (w *Workspace) Write(p string, content io.Reader, maxBytes int64, ifMatch string) (Entry, string, error) {
	rel, err := w.resolve(p, false)
	if err != nil {
		return Entry{}, "", err
	}
	return w.write(rel, content, maxBytes, ifMatch)
}

// write is Write for a path already through resolve; everything it touches goes through
// os.Root, so a symlink swapped in after resolve cannot redirect it.
func (w *Workspace) write(rel string, content io.Reader, maxBytes int64, ifMatch string) (Entry, string, error) {
	if rel == "." {
		return Entry{}, "", invalidField("path", "must name a file, not the workspace root")
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxWriteBytes
	}
	r, err := w.openRoot()
	if err != nil {
		return Entry{}, "", err
	}
	defer r.Close()
	name, dir := osName(rel), parentOf(rel)
	if dir != "." {
		if err := r.MkdirAll(osName(dir), dirPerm); err != nil {
			return Entry{}, "", fsError(dir, err)
		}
	}
	perm, keepPerm := fs.FileMode(0o644), false
	switch fi, err := r.Lstat(name); {
	case err == nil && fi.IsDir():
		return Entry{}, "", domain.Errorf(domain.CodeConflict, "%s is a directory", rel)
	case err == nil && fi.Mode().IsRegular():
		perm, keepPerm = fi.Mode().Perm(), true
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Entry{}, "", fsError(rel, err)
	}

	tmp, f, err := createTemp(r, dir, perm)
	if err != nil {
		return Entry{}, "", err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = r.Remove(osName(tmp))
		}
	}()
	sum, head, err := fill(f, rel, content, maxBytes, keepPerm, perm)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fsError(rel, cerr)
	}
	if err != nil {
		return Entry{}, "", err
	}

	// The slow part (reading the caller's stream) is done; only the check and the rename are
	// serialised.
	unlock := lockPaths(w, rel)
	defer unlock()
	if ifMatch != "" {
		cur, err := hashFile(r, rel)
		switch {
		case domain.ErrorCode(err) == domain.CodeNotFound:
			return Entry{}, "", domain.Errorf(domain.CodeVersionConflict, "%s no longer exists", rel)
		case err != nil:
			return Entry{}, "", err
		case !strings.EqualFold(cur, strings.TrimSpace(ifMatch)):
			return Entry{}, "", domain.Errorf(domain.CodeVersionConflict, "%s has changed since it was read", rel)
		}
	}
	if err := r.Rename(osName(tmp), name); err != nil {
		return Entry{}, "", fsError(rel, err)
	}
	renamed = true
	syncDir(r, dir)

	fi, err := r.Lstat(name)
	if err != nil {
		return Entry{}, "", fsError(rel, err)
	}
	e, _ := describe(r, rel, fi)
	e.Binary = isBinary(head, len(head) == sniffLen)
	return e, sum, nil
}

// fill streams content into f, refusing more than maxBytes, and returns the content's hash and
// its first sniffLen bytes.
func fill(f *os.File, rel string, content io.Reader, maxBytes int64, keepPerm bool, perm fs.FileMode) (string, []byte, error) {
	src := &trackingReader{r: io.LimitReader(content, maxBytes+1)}
	h := sha256.New()
	head := &headWriter{}
	n, err := io.Copy(io.MultiWriter(f, h, head), src)
	switch {
	case src.err != nil:
		return "", nil, &domain.Error{Code: domain.CodeInvalid, Message: "content could not be read",
			Fields: []domain.FieldError{{Field: "content", Message: "could not be read"}}, Err: src.err}
	case err != nil:
		return "", nil, fsError(rel, err)
	case n > maxBytes:
		// domain has no "too large" code; the HTTP layer can map this field error to 413.
		msg := fmt.Sprintf("must be at most %d bytes", maxBytes)
		return "", nil, &domain.Error{Code: domain.CodeInvalid, Message: "content " + msg,
			Fields: []domain.FieldError{{Field: "content", Message: msg}}}
	}
	if keepPerm {
		// Through the descriptor, so no path lookup can be redirected; umask made it narrower.
		if err := f.Chmod(perm); err != nil {
			return "", nil, fsError(rel, err)
		}
	}
	// Without this, a crash after the rename could leave the new name pointing at empty blocks.
	if err := f.Sync(); err != nil {
		return "", nil, fsError(rel, err)
	}
	return hex.EncodeToString(h.Sum(nil)), head.b, nil
}

// trackingReader remembers a read error, which io.Copy would otherwise not tell apart from a
// write error.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// headWriter keeps the first sniffLen bytes written to it.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if room := sniffLen - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// createTemp makes a new file in dir that no one else can have opened. The name does not derive
// from the target's, which may already be at the 255-byte limit.
func createTemp(r *os.Root, dir string, perm fs.FileMode) (string, *os.File, error) {
	for range 10 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, &domain.Error{Code: domain.CodeInternal, Message: "file operation failed", Err: err}
		}
		name := path.Join(dir, tempPrefix+hex.EncodeToString(b[:]))
		f, err := r.OpenFile(osName(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fsError(dir, err)
		}
		return name, f, nil
	}
	return "", nil, domain.Errorf(domain.CodeInternal, "could not create a temporary file")
}

// syncDir makes a rename durable. It is best effort: the rename has happened either way.
func syncDir(r *os.Root, dir string) {
	d, err := r.Open(osName(dir))
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// Mkdir creates a directory and any missing parents. An existing path is a conflict.
func (w *Workspace) Mkdir(p string) (Entry, error) {
	rel, err := w.resolve(p, false)
	if err != nil {
		return Entry{}, err
	}
	if rel == "." {
		return Entry{}, domain.Errorf(domain.CodeConflict, "the workspace root already exists")
	}
	r, err := w.openRoot()
	if err != nil {
		return Entry{}, err
	}
	defer r.Close()
	if dir := parentOf(rel); dir != "." {
		if err := r.MkdirAll(osName(dir), dirPerm); err != nil {
			return Entry{}, fsError(dir, err)
		}
	}
	if err := r.Mkdir(osName(rel), dirPerm); err != nil {
		return Entry{}, fsError(rel, err)
	}
	fi, err := r.Lstat(osName(rel))
	if err != nil {
		return Entry{}, fsError(rel, err)
	}
	e, _ := describe(r, rel, fi)
	return e, nil
}

// Move renames a file or directory (a symlink is moved, not its target). It never replaces an
// existing destination; missing parents of the destination are created.
func (w *Workspace) Move(from, to string) error {
	src, err := w.resolve(from, false)
	if err != nil {
		return fieldRename(err, "from")
	}
	dst, err := w.resolve(to, false)
	if err != nil {
		return fieldRename(err, "to")
	}
	switch {
	case src == ".":
		return invalidField("from", "cannot move the workspace root")
	case dst == ".":
		return domain.Errorf(domain.CodeConflict, "the workspace root already exists")
	case dst == src:
		return domain.Errorf(domain.CodeConflict, "%s already exists", dst)
	case strings.HasPrefix(dst, src+"/"):
		return invalidField("to", "cannot move a directory into itself")
	}
	r, err := w.openRoot()
	if err != nil {
		return err
	}
	defer r.Close()
	unlock := lockPaths(w, src, dst)
	defer unlock()
	if _, err := r.Lstat(osName(src)); err != nil {
		return fsError(src, err)
	}
	// rename(2) would silently replace a file (or an empty directory), so existence is
	// checked first; the path lock keeps this process's own writers out of the gap.
	switch _, err := r.Lstat(osName(dst)); {
	case err == nil:
		return domain.Errorf(domain.CodeConflict, "%s already exists", dst)
	case !errors.Is(err, fs.ErrNotExist):
		return fsError(dst, err)
	}
	if dir := parentOf(dst); dir != "." {
		if err := r.MkdirAll(osName(dir), dirPerm); err != nil {
			return fsError(dir, err)
		}
	}
	if err := r.Rename(osName(src), osName(dst)); err != nil {
		return fsError(dst, err)
	}
	return nil
}

// fieldRename points a path error at the argument it came from, so a client can tell which
// of the two paths of a move was refused.
func fieldRename(err error, field string) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	c := *de
	c.Fields = make([]domain.FieldError, len(de.Fields))
	for i, f := range de.Fields {
		if f.Field == "path" {
			f.Field = field
		}
		c.Fields[i] = f
	}
	return &c
}

// Delete removes a file, a symlink (not its target) or a directory; a non-empty directory only
// when recursive is set. The root itself is never deleted.
func (w *Workspace) Delete(p string, recursive bool) error {
	rel, err := w.resolve(p, false)
	if err != nil {
		return err
	}
	if rel == "." {
		const msg = "the workspace root cannot be deleted"
		return &domain.Error{Code: domain.CodeForbidden, Message: msg, Fields: pathField(msg)}
	}
	r, err := w.openRoot()
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Lstat(osName(rel))
	if err != nil {
		return fsError(rel, err)
	}
	if fi.IsDir() && recursive {
		err = r.RemoveAll(osName(rel))
	} else {
		err = r.Remove(osName(rel))
	}
	if err != nil {
		if fi.IsDir() && errors.Is(err, fs.ErrExist) { // rmdir(2) may say EEXIST for a non-empty directory
			err = syscall.ENOTEMPTY
		}
		return fsError(rel, err)
	}
	return nil
}

// Tree lists the entries below a directory, breadth first, so that when the limit cuts the
// listing short the shallow levels are complete. depth 1 lists the directory's children
// (<= 0 means 1, capped at MaxTreeDepth); limit <= 0 means DefaultTreeLimit, capped at
// MaxTreeLimit. Entries named .git are hidden and symlinked directories are not descended into
// (they could loop, and their content is listed where it really is). truncated reports entries
// left out by the limit.
func (w *Workspace) Tree(p string, depth, limit int) ([]Entry, bool, error) {
	depth = clamp(depth, 1, 1, MaxTreeDepth)
	limit = clamp(limit, DefaultTreeLimit, 1, MaxTreeLimit)
	rel, err := w.resolve(p, true)
	if err != nil {
		return nil, false, err
	}
	r, err := w.openRoot()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	fi, err := r.Stat(osName(rel))
	if err != nil {
		return nil, false, fsError(rel, err)
	}
	if !fi.IsDir() {
		return nil, false, domain.Errorf(domain.CodeConflict, "%s is not a directory", rel)
	}

	type dir struct {
		rel   string
		level int
	}
	var out []Entry
	queue := []dir{{rel, 1}}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		children, cut, err := readDir(r, d.rel)
		if err != nil {
			if d.rel == rel {
				return nil, false, fsError(rel, err)
			}
			continue // one unreadable subdirectory should not hide the rest of the tree
		}
		for _, c := range children {
			if isGitName(c.Name()) {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			info, err := c.Info()
			if err != nil {
				continue // removed since it was listed
			}
			e, _ := describe(r, path.Join(d.rel, c.Name()), info)
			out = append(out, e)
			if e.Dir && !e.Symlink && d.level < depth {
				queue = append(queue, dir{e.Path, d.level + 1})
			}
		}
		if cut {
			return out, true, nil
		}
	}
	return out, false, nil
}

// readDir lists up to maxDirScan entries of a directory sorted by name; cut reports more.
func readDir(r *os.Root, rel string) ([]fs.DirEntry, bool, error) {
	f, err := r.Open(osName(rel))
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	var all []fs.DirEntry
	for len(all) < maxDirScan {
		batch, err := f.ReadDir(min(1024, maxDirScan-len(all)))
		all = append(all, batch...)
		if errors.Is(err, io.EOF) {
			sortEntries(all)
			return all, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	more, _ := f.ReadDir(1)
	sortEntries(all)
	return all, len(more) > 0, nil
}

func sortEntries(es []fs.DirEntry) {
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}

func clamp(v, def, lo, hi int) int {
	if v <= 0 {
		v = def
	}
	return max(lo, min(v, hi))
}
