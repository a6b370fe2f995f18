// Package pathsafe is the single gate every user-supplied path passes before it touches the file
// system. Workspaces and agent file tools resolve relative paths against a root directory; the
// original system let users escape that root with encoded dots, backslashes and symlinks, so every
// caller goes through Resolve (or Rel) instead of rolling its own checks.
//
// Resolve is a check, not a lock: a symlink swapped in between Resolve and the caller's open can
// still redirect it. Callers that open files should additionally use os.OpenRoot, which enforces
// containment at open time; Resolve is what turns hostile input into a clear 403 first.
package pathsafe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
)

const (
	// MaxPathLen matches Linux PATH_MAX: nothing longer could be opened anyway.
	MaxPathLen = 4096
	// maxSegmentLen matches Linux NAME_MAX, so an over-long name fails here with a clear message
	// instead of as an opaque ENAMETOOLONG from a later syscall.
	maxSegmentLen = 255
	// maxDecodeRounds bounds percent-decoding. Legitimate clients encode once, sometimes twice by
	// accident; anything still changing after this many rounds is an evasion attempt.
	maxDecodeRounds = 8
	// maxSymlinks matches the Linux MAXSYMLINKS limit, so loops fail here the way they would in
	// the kernel.
	maxSymlinks = 40
)

// Resolve validates a user-supplied path and returns the absolute, cleaned path inside root.
// root must be an absolute directory path. The returned path may not exist yet (for writes),
// but every existing ancestor is resolved through symlinks and must stay inside root.
//
// The path is percent-decoded until stable before it is checked and used, so the result is a
// fixed point of decoding: a later layer that decodes it again cannot turn it into something
// that was not checked. The price is that a literal "%XX" in a file name cannot be addressed.
//
// Rejections are *domain.Error values with Code domain.CodeForbidden (an attempt to leave the
// root) or domain.CodeInvalid (empty or over-long input), and a field error on "path". A root
// that is not an absolute, existing directory is a server misconfiguration: domain.CodeInternal.
func Resolve(root, userPath string) (string, error) {
	abs, _, err := resolve(root, userPath)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// Rel is Resolve but returns the path relative to root (with forward slashes), for display.
// Root itself is ".". Feeding the result back into Resolve yields the same path.
func Rel(root, userPath string) (string, error) {
	_, rel, err := resolve(root, userPath)
	if err != nil {
		return "", err
	}
	return rel, nil
}

func resolve(root, userPath string) (abs, rel string, err error) {
	root, realRoot, err := checkRoot(root)
	if err != nil {
		return "", "", err
	}
	rel, err = clean(userPath)
	if err != nil {
		return "", "", err
	}
	if err := checkSymlinks(realRoot, rel); err != nil {
		return "", "", err
	}
	abs = filepath.Join(root, filepath.FromSlash(rel))
	// clean already guarantees this; re-checking the final value keeps a future edit of clean
	// from silently turning into an escape.
	if !within(root, abs) {
		return "", "", forbidden("path traversal is not allowed")
	}
	return abs, rel, nil
}

// checkRoot returns the cleaned root and its symlink-free form. Containment is judged against
// the real root, because symlink targets are real paths too.
func checkRoot(root string) (clean, real string, err error) {
	if !filepath.IsAbs(root) {
		return "", "", misconfigured(fmt.Errorf("pathsafe: root %q is not absolute", root))
	}
	clean = filepath.Clean(root)
	real, err = filepath.EvalSymlinks(clean)
	if err != nil {
		return "", "", misconfigured(fmt.Errorf("pathsafe: resolve root: %w", err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", "", misconfigured(fmt.Errorf("pathsafe: stat root: %w", err))
	}
	if !fi.IsDir() {
		return "", "", misconfigured(fmt.Errorf("pathsafe: root %q is not a directory", root))
	}
	return clean, real, nil
}

// clean validates userPath lexically and returns it as a cleaned, slash-separated relative path
// ("." for the root itself).
func clean(userPath string) (string, error) {
	if userPath == "" {
		return "", invalid("path is required")
	}
	if len(userPath) > MaxPathLen {
		return "", invalid(fmt.Sprintf("path is longer than %d bytes", MaxPathLen))
	}
	forms, err := decodeForms(userPath)
	if err != nil {
		return "", err
	}
	// Every intermediate form is checked, not only the last: whichever layer downstream decodes
	// how many times, the string it ends up with has been vetted.
	for _, f := range forms {
		if err := checkForm(f); err != nil {
			return "", err
		}
	}
	rel := path.Clean(strings.ReplaceAll(forms[len(forms)-1], `\`, "/"))
	// Cleaning can surface a new first segment ("./~x" becomes "~x"); checking it again keeps
	// Rel's output acceptable to Resolve.
	if err := checkStart(rel); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(rel, "/") {
		if len(seg) > maxSegmentLen {
			return "", invalid(fmt.Sprintf("path segment is longer than %d bytes", maxSegmentLen))
		}
	}
	// Defence in depth: the standard library's own notion of "stays below the directory".
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", forbidden("path traversal is not allowed")
	}
	return rel, nil
}

// decodeForms returns s and each successive percent-decoding of it, until decoding no longer
// changes the string.
func decodeForms(s string) ([]string, error) {
	forms := []string{s}
	for round := 0; ; round++ {
		next := percentDecode(s)
		if next == s {
			return forms, nil
		}
		if round == maxDecodeRounds {
			return nil, forbidden("path is percent-encoded too many times")
		}
		forms = append(forms, next)
		s = next
	}
}

// percentDecode decodes every well-formed %XX escape and keeps malformed ones literally.
// url.PathUnescape would reject the whole string on one bad escape, which would leave the
// well-formed escapes next to it ("%%32%65") undecoded and unchecked.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// lookAlikes are characters that Unicode compatibility normalisation (NFKC) or some file
// systems and proxies fold into '.', '/' or '\', or that render like them. A path that means one
// thing here and another after normalisation elsewhere is an escape waiting to happen.
var lookAlikes = map[rune]bool{
	'\uFF0E': true, // FULLWIDTH FULL STOP
	'\u2024': true, // ONE DOT LEADER
	'\u2025': true, // TWO DOT LEADER (NFKC: "..")
	'\uFE52': true, // SMALL FULL STOP
	'\uFF0F': true, // FULLWIDTH SOLIDUS
	'\u2215': true, // DIVISION SLASH
	'\u2044': true, // FRACTION SLASH
	'\u29F8': true, // BIG SOLIDUS
	'\uFF3C': true, // FULLWIDTH REVERSE SOLIDUS
	'\uFE68': true, // SMALL REVERSE SOLIDUS
	'\u2216': true, // SET MINUS
	'\u29F9': true, // BIG REVERSE SOLIDUS
}

// checkForm applies the lexical rules to one decoding of the user's path.
func checkForm(f string) error {
	if strings.IndexByte(f, 0) >= 0 {
		// C APIs and many tools truncate at NUL, so "a.txt\x00.png" would be checked as one
		// name and opened as another.
		return forbidden("NUL bytes are not allowed")
	}
	for i := 0; i < len(f); i++ {
		if f[i] < 0x20 || f[i] == 0x7f {
			// Newlines and escape sequences in names break logs, terminals and line-based tools.
			return forbidden("control characters are not allowed")
		}
	}
	if !utf8.ValidString(f) {
		// Overlong encodings such as %C0%AE are '.' to lenient decoders.
		return forbidden("path must be valid UTF-8")
	}
	if strings.ContainsFunc(f, func(r rune) bool { return lookAlikes[r] }) {
		return forbidden("look-alike dot and slash characters are not allowed")
	}
	// Backslashes are separators on Windows and to many archive tools and proxies; treating
	// them as separators everywhere means "..\\" cannot slip through as a file name.
	n := strings.ReplaceAll(f, `\`, "/")
	if err := checkStart(n); err != nil {
		return err
	}
	for _, seg := range strings.Split(n, "/") {
		// Any ".." is rejected, even one that would clean to a path inside the root: a clear
		// 403 is what callers expect, and it leaves no lexical arithmetic to get wrong.
		if seg == ".." {
			return forbidden("path traversal is not allowed")
		}
	}
	return nil
}

// checkStart rejects paths that are absolute, or would be on some system or to a shell.
func checkStart(n string) error {
	switch {
	case strings.HasPrefix(n, "/"): // also "\\server\share" and "\x" after normalisation
		return forbidden("absolute paths are not allowed")
	case len(n) >= 2 && isLetter(n[0]) && n[1] == ':': // "C:\x" and drive-relative "C:x"
		return forbidden("absolute paths are not allowed")
	case strings.HasPrefix(n, "~"): // "~" and "~user" expand to home directories in shells
		return forbidden("paths starting with ~ are not allowed")
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

var errSymlinkLoop = errors.New("pathsafe: too many levels of symbolic links")

// checkSymlinks walks rel below realRoot the way the kernel would, following every symlink, and
// requires each user-supplied component to land inside realRoot. Checking per component (not
// only the end result) means a path cannot pass through a directory outside the root, even one
// that leads back in.
func checkSymlinks(realRoot, rel string) error {
	w := walker{}
	cur := realRoot
	for _, seg := range strings.Split(rel, "/") {
		var err error
		cur, err = w.step(cur, seg)
		switch {
		case errors.Is(err, errSymlinkLoop):
			return forbiddenErr("path has too many levels of symbolic links", err)
		case errors.Is(err, syscall.ENAMETOOLONG):
			return &domain.Error{Code: domain.CodeInvalid, Message: "path is too long",
				Fields: pathField("path is too long"), Err: err}
		case err != nil:
			// Fail closed: what cannot be inspected cannot be trusted.
			return forbiddenErr("path cannot be verified", err)
		}
		if !within(realRoot, cur) {
			return forbidden("path escapes the workspace through a symlink")
		}
	}
	return nil
}

// walker resolves symlinks like filepath.EvalSymlinks, but tolerates missing components so that
// paths for new files can be checked, including dangling links: a write through a dangling link
// creates its target, so the target must be inside the root too.
type walker struct {
	links int
	// missing is a path known not to exist; anything below it does not exist either, which
	// spares syscalls (and ENAMETOOLONG on deep new paths) until a ".." leaves it.
	missing string
}

// step resolves name relative to the real (symlink-free) directory dir and returns the real path.
func (w *walker) step(dir, name string) (string, error) {
	switch name {
	case "", ".":
		return dir, nil
	case "..":
		// dir is symlink-free, so its lexical parent is its real parent.
		return filepath.Dir(dir), nil
	}
	next := filepath.Join(dir, name)
	if w.missing != "" && within(w.missing, dir) {
		return next, nil
	}
	fi, err := os.Lstat(next)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			// Not there (yet): the kernel would create it right here, below dir.
			w.missing = next
			return next, nil
		}
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return next, nil
	}
	w.links++
	if w.links > maxSymlinks {
		return "", errSymlinkLoop
	}
	target, err := os.Readlink(next)
	if err != nil {
		return "", err
	}
	// Resolve the target component by component rather than with filepath.Clean: "a/../x" must
	// follow a first, because if a is itself a link, ".." leaves from its target.
	cur := dir
	if filepath.IsAbs(target) {
		cur = string(filepath.Separator)
	}
	for _, part := range strings.Split(filepath.ToSlash(target), "/") {
		if cur, err = w.step(cur, part); err != nil {
			return "", err
		}
	}
	return cur, nil
}

// within reports whether p is root or below it. Both must be clean and absolute.
func within(root, p string) bool {
	if p == root {
		return true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(p, prefix)
}

func pathField(msg string) []domain.FieldError {
	return []domain.FieldError{{Field: "path", Message: msg}}
}

func forbidden(msg string) *domain.Error {
	return &domain.Error{Code: domain.CodeForbidden, Message: msg, Fields: pathField(msg)}
}

func forbiddenErr(msg string, cause error) *domain.Error {
	e := forbidden(msg)
	e.Err = cause
	return e
}

func invalid(msg string) *domain.Error {
	return &domain.Error{Code: domain.CodeInvalid, Message: msg, Fields: pathField(msg)}
}

func misconfigured(cause error) *domain.Error {
	return &domain.Error{Code: domain.CodeInternal, Message: "workspace root is not usable", Err: cause}
}
