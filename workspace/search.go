package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pathsafe"
)

const (
	// MaxSearchFileBytes skips files larger than this: they are rarely source, and one of them
	// could take more time than the rest of the workspace.
	MaxSearchFileBytes   = 2 << 20
	DefaultSearchResults = 100
	MaxSearchResults     = 1000
	MaxQueryLen          = 1000
	// maxSearchFiles bounds the work of one search in a huge workspace; hitting it is reported
	// as truncation like any other limit.
	maxSearchFiles = 50000
	// maxMatchText keeps one minified line from filling a response.
	maxMatchText = 500
)

// Match is one line containing the query.
type Match struct {
	Path string `json:"path"`
	Line int    `json:"line"` // 1-based
	Text string `json:"text"` // the line, shortened to 500 bytes
}

// Search finds lines containing query (literally, ignoring case) in the text files below dir
// ("" is the whole workspace), in path order. glob, when set, filters files: a pattern with a
// slash is matched against the path from the root, one without against the file name (path.Match
// syntax; no "**"). Binary files, files over MaxSearchFileBytes, symlinks and .git are skipped.
// maxResults <= 0 means DefaultSearchResults, capped at MaxSearchResults; truncated reports that
// a limit cut the search short.
func (w *Workspace) Search(ctx context.Context, dir, query, glob string, maxResults int) ([]Match, bool, error) {
	if strings.TrimSpace(query) == "" {
		return nil, false, invalidField("query", "is required")
	}
	if len(query) > MaxQueryLen {
		return nil, false, invalidField("query", "is too long")
	}
	if strings.ContainsAny(query, "\n\r") {
		return nil, false, invalidField("query", "must be a single line")
	}
	maxResults = clamp(maxResults, DefaultSearchResults, 1, MaxSearchResults)
	if dir == "" {
		dir = "."
	}
	rel, err := w.resolve(dir, true)
	if err != nil {
		return nil, false, err
	}
	pattern, err := w.checkGlob(glob)
	if err != nil {
		return nil, false, err
	}
	r, err := w.openRoot()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()

	s := searcher{r: r, query: []byte(strings.ToLower(query)), max: maxResults}
	err = fs.WalkDir(r.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if p == rel {
				return err
			}
			return nil // one unreadable directory should not fail the search
		}
		if d.IsDir() {
			if p != rel && isGitName(d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || (pattern != "" && !globMatch(pattern, p)) {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > MaxSearchFileBytes {
			return nil
		}
		if s.files++; s.files > maxSearchFiles {
			s.truncated = true
			return fs.SkipAll
		}
		if s.file(p) {
			s.truncated = true
			return fs.SkipAll
		}
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, false, &domain.Error{Code: domain.CodeTimeout, Message: "search was cancelled or timed out", Err: err}
	default:
		return nil, false, fsError(rel, err)
	}
	return s.out, s.truncated, nil
}

// checkGlob runs the glob through pathsafe like any path: it is never opened, but a pattern
// that reaches outside the root ("../*") is a probe, and refusing it says so.
func (w *Workspace) checkGlob(glob string) (string, error) {
	if glob == "" {
		return "", nil
	}
	pattern, err := pathsafe.Rel(w.root, glob)
	if err != nil {
		return "", fieldRename(err, "glob")
	}
	if pattern == "." {
		return "", nil
	}
	if err := w.checkGitDir(pattern, true); err != nil {
		return "", fieldRename(err, "glob")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return "", invalidField("glob", "is not a valid pattern")
	}
	return pattern, nil
}

func globMatch(pattern, p string) bool {
	if !strings.Contains(pattern, "/") {
		p = path.Base(p)
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

type searcher struct {
	r         *os.Root
	query     []byte // lower-cased
	max       int
	out       []Match
	files     int
	truncated bool
}

// file scans one file line by line and reports whether the result limit was passed.
func (s *searcher) file(rel string) (full bool) {
	f, e, err := openRegular(s.r, rel)
	if err != nil {
		return false // gone or replaced since it was listed
	}
	defer f.Close()
	if e.Binary {
		return false
	}
	sc := bufio.NewScanner(f)
	// The whole file may be one line; the size cap bounds the buffer.
	sc.Buffer(make([]byte, 0, 64<<10), MaxSearchFileBytes+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !bytes.Contains(bytes.ToLower(line), s.query) {
			continue
		}
		if len(s.out) == s.max {
			return true
		}
		s.out = append(s.out, Match{Path: rel, Line: n, Text: snippet(line)})
	}
	return false
}

func snippet(line []byte) string {
	line = bytes.TrimRight(line, "\r")
	if len(line) > maxMatchText {
		k := maxMatchText
		for k > 0 && !utf8.RuneStart(line[k]) {
			k--
		}
		line = line[:k]
	}
	return strings.ToValidUTF8(string(line), "\uFFFD")
}
