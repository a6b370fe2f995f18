package workspace

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gathering/gathering/domain"
)

const (
	// GitTimeout bounds every git command, whatever the caller's context allows.
	GitTimeout = 30 * time.Second
	// MaxDiffBytes bounds the diff one call returns.
	MaxDiffBytes = 1 << 20
	// gitOutputCap bounds what any other command may print before it is stopped.
	gitOutputCap    = 8 << 20
	gitStderrCap    = 64 << 10
	DefaultLogLimit = 50
	MaxLogLimit     = 1000
	// MaxStagePaths and maxStageBytes keep one call's arguments well below the kernel's limit.
	MaxStagePaths   = 1000
	maxStageBytes   = 256 << 10
	maxMessageBytes = 64 << 10
	maxIdentBytes   = 256
	initialBranch   = "main"
)

// GitFile is one changed path in the working tree. Index and WorkTree are git's status letters
// (M modified, A added, D deleted, R renamed, C copied, T type changed, U unmerged), empty when
// that side is unchanged.
type GitFile struct {
	Path       string `json:"path"`
	OrigPath   string `json:"orig_path,omitempty"` // the source of a rename or copy
	Index      string `json:"index"`
	WorkTree   string `json:"work_tree"`
	Untracked  bool   `json:"untracked"`
	Conflicted bool   `json:"conflicted"`
}

// GitStatus is the state of the repository: its branch and its changed files.
type GitStatus struct {
	Branch    string    `json:"branch"` // empty when HEAD is detached
	Head      string    `json:"head"`   // commit hash; empty before the first commit
	Upstream  string    `json:"upstream,omitempty"`
	Ahead     int       `json:"ahead"`
	Behind    int       `json:"behind"`
	Files     []GitFile `json:"files"`
	Truncated bool      `json:"truncated"` // more changes than fit the output cap
}

// Commit is one commit of the log.
type Commit struct {
	Hash        string    `json:"hash"`
	Parents     []string  `json:"parents"`
	AuthorName  string    `json:"author_name"`
	AuthorEmail string    `json:"author_email"`
	AuthorTime  time.Time `json:"author_time"`
	CommitTime  time.Time `json:"commit_time"`
	Subject     string    `json:"subject"`
	Body        string    `json:"body"`
}

// Branch is one local branch.
type Branch struct {
	Name     string `json:"name"`
	Hash     string `json:"hash"` // empty for the current branch before its first commit
	Current  bool   `json:"current"`
	Upstream string `json:"upstream,omitempty"`
}

// gitResult is what a git command left behind; a non-zero exit is not an error at this level,
// because several commands answer with their exit code.
type gitResult struct {
	out       []byte
	truncated bool
	exit      int
	stderr    string
}

// git runs one git command in the workspace with nothing of the machine's or the user's git
// configuration: no hooks, no fsmonitor, no pager, no network, no prompts, literal pathspecs
// (so a file named "*" is that file), and no discovery of a repository above the root.
func (w *Workspace) git(ctx context.Context, stdin io.Reader, outCap int, extraEnv []string, args ...string) (gitResult, error) {
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	full := append([]string{
		"-C", w.root,
		"-c", "core.hooksPath=" + os.DevNull,
		"-c", "core.fsmonitor=false",
		"-c", "core.pager=cat",
		"-c", "commit.gpgSign=false",
		"-c", "tag.gpgSign=false",
		"-c", "protocol.allow=never",
		"-c", "credential.helper=",
		// Automatic gc and maintenance detach into the background, outliving the timeout.
		"-c", "gc.auto=0",
		"-c", "maintenance.auto=false",
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.DevNull,
		"XDG_CONFIG_HOME=" + os.DevNull,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_ATTR_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_LITERAL_PATHSPECS=1",
		"GIT_CEILING_DIRECTORIES=" + filepath.Dir(w.realRoot),
		"LC_ALL=C",
	}, extraEnv...)
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	cmd.Stdin = stdin
	stdout := &capWriter{cap: outCap, onFull: cancel}
	stderr := &capWriter{cap: gitStderrCap}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child git spawned keeps the pipes open after git is killed; this bounds the wait.
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	res := gitResult{out: stdout.buf.Bytes(), truncated: stdout.full, stderr: stderr.buf.String()}
	if res.truncated {
		return res, nil // stopped on purpose; its exit status says nothing
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, &domain.Error{Code: domain.CodeTimeout, Message: "git did not finish in time", Err: err}
	case errors.As(err, &exitErr) && exitErr.Exited():
		res.exit = exitErr.ExitCode()
		return res, nil
	case errors.Is(err, exec.ErrNotFound):
		return res, &domain.Error{Code: domain.CodeUnavailable, Message: "git is not installed", Err: err}
	}
	return res, &domain.Error{Code: domain.CodeInternal, Message: "git failed", Err: err}
}

// gitOK runs a command that must succeed.
func (w *Workspace) gitOK(ctx context.Context, args ...string) (gitResult, error) {
	res, err := w.git(ctx, nil, gitOutputCap, nil, args...)
	if err != nil {
		return res, err
	}
	if res.exit != 0 {
		return res, gitFailed(args[0], res)
	}
	return res, nil
}

// gitFailed keeps git's own words out of the client message: they carry absolute paths.
func gitFailed(cmd string, res gitResult) error {
	return &domain.Error{Code: domain.CodeInternal, Message: "git " + cmd + " failed",
		Err: errors.New(strings.TrimSpace(res.stderr))}
}

// capWriter keeps the first cap bytes and reports (once) when more arrive, so the command can
// be stopped instead of running on into a buffer no one reads.
type capWriter struct {
	buf    bytes.Buffer
	cap    int
	full   bool
	onFull func()
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.cap - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		if !c.full {
			c.full = true
			if c.onFull != nil {
				c.onFull()
			}
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// requireRepo refuses git commands in a workspace without its own repository; without this
// check git would say "not a git repository" only after trying, and GitInit has to know.
func (w *Workspace) requireRepo() error {
	if _, err := os.Lstat(filepath.Join(w.root, ".git")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return domain.Errorf(domain.CodeConflict, "the workspace is not a git repository")
		}
		return fsError(".git", err)
	}
	return nil
}

// GitInit makes the workspace a git repository whose first branch is main.
func (w *Workspace) GitInit(ctx context.Context) error {
	if err := w.requireRepo(); err == nil {
		return domain.Errorf(domain.CodeConflict, "the workspace is already a git repository")
	} else if domain.ErrorCode(err) != domain.CodeConflict {
		return err
	}
	_, err := w.gitOK(ctx, "init", "--quiet", "--initial-branch="+initialBranch)
	return err
}

// GitStatus reports the branch and every changed, staged or untracked file.
func (w *Workspace) GitStatus(ctx context.Context) (GitStatus, error) {
	if err := w.requireRepo(); err != nil {
		return GitStatus{}, err
	}
	res, err := w.gitOK(ctx, "status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all")
	if err != nil {
		return GitStatus{}, err
	}
	st := parseStatus(res.out, res.truncated)
	return st, nil
}

// parseStatus reads `git status --porcelain=v2 -z --branch`. Paths arrive raw (no quoting), so
// any byte but NUL is kept as it is.
func parseStatus(out []byte, truncated bool) GitStatus {
	st := GitStatus{Files: []GitFile{}, Truncated: truncated}
	recs := strings.Split(string(out), "\x00")
	// The last element follows the last NUL: empty, or a record the output cap cut.
	recs = recs[:len(recs)-1]
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		if len(rec) < 2 {
			continue
		}
		switch rec[0] {
		case '#':
			parseBranchHeader(&st, rec)
		case '1':
			if f := strings.SplitN(rec, " ", 9); len(f) == 9 {
				st.Files = append(st.Files, changed(f[1], f[8]))
			}
		case '2':
			f := strings.SplitN(rec, " ", 10)
			if len(f) != 10 || i+1 >= len(recs) {
				continue
			}
			i++ // the source path is the next record
			c := changed(f[1], f[9])
			c.OrigPath = recs[i]
			st.Files = append(st.Files, c)
		case 'u':
			if f := strings.SplitN(rec, " ", 11); len(f) == 11 {
				c := changed(f[1], f[10])
				c.Conflicted = true
				st.Files = append(st.Files, c)
			}
		case '?':
			st.Files = append(st.Files, GitFile{Path: rec[2:], Untracked: true})
		}
	}
	return st
}

func changed(xy, p string) GitFile {
	letter := func(b byte) string {
		if b == '.' {
			return ""
		}
		return string(b)
	}
	return GitFile{Path: p, Index: letter(xy[0]), WorkTree: letter(xy[1])}
}

func parseBranchHeader(st *GitStatus, rec string) {
	key, val, _ := strings.Cut(strings.TrimPrefix(rec, "# "), " ")
	switch key {
	case "branch.oid":
		if val != "(initial)" {
			st.Head = val
		}
	case "branch.head":
		if val != "(detached)" {
			st.Branch = val
		}
	case "branch.upstream":
		st.Upstream = val
	case "branch.ab":
		a, b, _ := strings.Cut(val, " ")
		st.Ahead, _ = strconv.Atoi(strings.TrimPrefix(a, "+"))
		st.Behind, _ = strconv.Atoi(strings.TrimPrefix(b, "-"))
	}
}

// GitDiff returns the diff of the working tree against the index, or with staged set, of the
// index against HEAD; limited to p unless p is empty. Output beyond MaxDiffBytes is cut at a
// line end and truncated is set.
func (w *Workspace) GitDiff(ctx context.Context, p string, staged bool) (diff string, truncated bool, err error) {
	args := []string{"diff", "--no-color", "--no-ext-diff", "--no-textconv", "--patch"}
	if staged {
		args = append(args, "--cached")
	}
	args = append(args, "--")
	if p != "" {
		rel, err := w.resolve(p, false)
		if err != nil {
			return "", false, err
		}
		args = append(args, rel)
	}
	if err := w.requireRepo(); err != nil {
		return "", false, err
	}
	res, err := w.git(ctx, nil, MaxDiffBytes, nil, args...)
	if err != nil {
		return "", false, err
	}
	if res.exit != 0 {
		return "", false, gitFailed("diff", res)
	}
	out := res.out
	if res.truncated {
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			out = out[:i+1]
		}
	}
	return string(out), res.truncated, nil
}

// logFields is one commit in `git log`: every field ends with NUL, and no field but the body
// can hold a newline, so records split cleanly whatever the messages say.
const (
	logFormat = "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cI%x00%s%x00%b%x00"
	logFields = 8
)

// GitLog returns the latest commits of HEAD, newest first; limit <= 0 means DefaultLogLimit,
// capped at MaxLogLimit. A repository without commits has an empty log.
func (w *Workspace) GitLog(ctx context.Context, limit int) ([]Commit, error) {
	if err := w.requireRepo(); err != nil {
		return nil, err
	}
	limit = clamp(limit, DefaultLogLimit, 1, MaxLogLimit)
	born, err := w.hasCommits(ctx)
	if err != nil || !born {
		return []Commit{}, err
	}
	res, err := w.gitOK(ctx, "log", "--no-color", "--no-show-signature", "-n", strconv.Itoa(limit), logFormat, "--")
	if err != nil {
		return nil, err
	}
	return parseLog(res.out), nil
}

func parseLog(out []byte) []Commit {
	fields := strings.Split(string(out), "\x00")
	commits := []Commit{}
	for i := 0; i+logFields <= len(fields); i += logFields {
		f := fields[i : i+logFields]
		// Entries are separated by a newline, which lands at the start of the next hash.
		hash := strings.TrimLeft(f[0], "\n")
		if hash == "" {
			break
		}
		c := Commit{Hash: hash, AuthorName: f[2], AuthorEmail: f[3], Subject: f[6],
			Body: strings.TrimRight(f[7], "\n"), Parents: strings.Fields(f[1])}
		c.AuthorTime, _ = time.Parse(time.RFC3339, f[4])
		c.CommitTime, _ = time.Parse(time.RFC3339, f[5])
		if c.Parents == nil {
			c.Parents = []string{}
		}
		commits = append(commits, c)
	}
	return commits
}

func (w *Workspace) hasCommits(ctx context.Context) (bool, error) {
	res, err := w.git(ctx, nil, gitOutputCap, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil {
		return false, err
	}
	return res.exit == 0, nil
}

// GitBranches lists the local branches, including the current one before its first commit.
func (w *Workspace) GitBranches(ctx context.Context) ([]Branch, error) {
	if err := w.requireRepo(); err != nil {
		return nil, err
	}
	res, err := w.gitOK(ctx, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(upstream:short)", "refs/heads/")
	if err != nil {
		return nil, err
	}
	current, err := w.currentBranch(ctx)
	if err != nil {
		return nil, err
	}
	branches := []Branch{}
	seen := false
	for _, line := range strings.Split(string(res.out), "\n") {
		f := strings.Split(line, "\x00")
		if len(f) != 3 {
			continue
		}
		b := Branch{Name: strings.TrimPrefix(f[0], "refs/heads/"), Hash: f[1], Upstream: f[2]}
		b.Current = b.Name == current
		seen = seen || b.Current
		branches = append(branches, b)
	}
	if current != "" && !seen {
		branches = append(branches, Branch{Name: current, Current: true})
	}
	return branches, nil
}

// currentBranch is empty when HEAD is detached.
func (w *Workspace) currentBranch(ctx context.Context) (string, error) {
	res, err := w.git(ctx, nil, gitOutputCap, nil, "symbolic-ref", "--quiet", "HEAD")
	if err != nil || res.exit != 0 {
		return "", err
	}
	return strings.TrimPrefix(strings.TrimSpace(string(res.out)), "refs/heads/"), nil
}

// GitStage stages the given paths as they are in the working tree, deletions included.
func (w *Workspace) GitStage(ctx context.Context, paths []string) error {
	rels, err := w.stagePaths(paths)
	if err != nil {
		return err
	}
	if err := w.requireRepo(); err != nil {
		return err
	}
	res, err := w.git(ctx, nil, gitOutputCap, nil, append([]string{"add", "--all", "--"}, rels...)...)
	if err != nil {
		return err
	}
	if res.exit != 0 {
		if strings.Contains(res.stderr, "did not match any files") {
			return &domain.Error{Code: domain.CodeNotFound, Message: "a path matches no file",
				Fields: pathField("matches no file"), Err: errors.New(res.stderr)}
		}
		return gitFailed("add", res)
	}
	return nil
}

// GitUnstage takes the given paths out of the index, back to HEAD (or untracked before the
// first commit). The working tree is not touched.
func (w *Workspace) GitUnstage(ctx context.Context, paths []string) error {
	rels, err := w.stagePaths(paths)
	if err != nil {
		return err
	}
	if err := w.requireRepo(); err != nil {
		return err
	}
	_, err = w.gitOK(ctx, append([]string{"reset", "--quiet", "--"}, rels...)...)
	return err
}

func (w *Workspace) stagePaths(paths []string) ([]string, error) {
	switch {
	case len(paths) == 0:
		return nil, invalidField("paths", "at least one path is required")
	case len(paths) > MaxStagePaths:
		return nil, invalidField("paths", "too many paths at once")
	}
	rels := make([]string, 0, len(paths))
	total := 0
	for _, p := range paths {
		rel, err := w.resolve(p, false)
		if err != nil {
			return nil, err
		}
		if total += len(rel); total > maxStageBytes {
			return nil, invalidField("paths", "too many paths at once")
		}
		rels = append(rels, rel)
	}
	return rels, nil
}

// GitCommit commits what is staged, authored (and committed) by the given person, and returns
// the new commit. Nothing staged is a conflict.
func (w *Workspace) GitCommit(ctx context.Context, message, authorName, authorEmail string) (Commit, error) {
	var v domain.Validation
	switch {
	case strings.TrimSpace(message) == "":
		v.Add("message", "is required")
	case len(message) > maxMessageBytes:
		v.Add("message", "must be at most %d bytes", maxMessageBytes)
	case strings.IndexByte(message, 0) >= 0:
		v.Add("message", "must not contain NUL bytes")
	}
	if msg := checkIdent(authorName); msg != "" {
		v.Add("author_name", "%s", msg)
	}
	if msg := checkIdent(authorEmail); msg != "" {
		v.Add("author_email", "%s", msg)
	} else if !strings.Contains(authorEmail, "@") || strings.ContainsFunc(authorEmail, unicode.IsSpace) {
		v.Add("author_email", "must be an email address")
	}
	if err := v.Err(); err != nil {
		return Commit{}, err
	}
	if err := w.requireRepo(); err != nil {
		return Commit{}, err
	}
	// Checked first because git's own "nothing to commit" is only an exit code and prose.
	res, err := w.git(ctx, nil, gitOutputCap, nil, "diff", "--cached", "--quiet", "--no-ext-diff")
	if err != nil {
		return Commit{}, err
	}
	switch res.exit {
	case 0:
		return Commit{}, domain.Errorf(domain.CodeConflict, "nothing is staged to commit")
	case 1:
	default:
		return Commit{}, gitFailed("diff", res)
	}
	ident := []string{
		"GIT_AUTHOR_NAME=" + authorName, "GIT_AUTHOR_EMAIL=" + authorEmail,
		"GIT_COMMITTER_NAME=" + authorName, "GIT_COMMITTER_EMAIL=" + authorEmail,
	}
	// The message goes through stdin, so nothing in it can be read as an option; whitespace
	// cleanup keeps lines starting with '#' ("#12 fixed"), which the default would drop.
	res, err = w.git(ctx, strings.NewReader(message), gitOutputCap, ident,
		"commit", "--quiet", "--no-verify", "--cleanup=whitespace", "--file=-")
	if err != nil {
		return Commit{}, err
	}
	if res.exit != 0 {
		return Commit{}, gitFailed("commit", res)
	}
	log, err := w.gitOK(ctx, "log", "--no-color", "--no-show-signature", "-n", "1", logFormat, "--")
	if err != nil {
		return Commit{}, err
	}
	commits := parseLog(log.out)
	if len(commits) == 0 {
		return Commit{}, domain.Errorf(domain.CodeInternal, "the new commit could not be read")
	}
	return commits[0], nil
}

// checkIdent applies git's rules for names and emails (no angle brackets, no line breaks), so
// a bad identity is a field error rather than a failed commit.
func checkIdent(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "is required"
	case len(s) > maxIdentBytes:
		return "is too long"
	case strings.ContainsAny(s, "<>"):
		return "must not contain < or >"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}

// GitCheckout switches to a local branch, creating it from HEAD when create is set. Only
// branches are accepted: a tag or commit name would detach HEAD, and a remote branch name would
// otherwise be guessed into a new local branch.
func (w *Workspace) GitCheckout(ctx context.Context, branch string, create bool) error {
	if err := w.requireRepo(); err != nil {
		return err
	}
	if err := w.checkBranchName(ctx, branch); err != nil {
		return err
	}
	res, err := w.git(ctx, nil, gitOutputCap, nil, "show-ref", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return err
	}
	exists := res.exit == 0
	args := []string{"switch", "--quiet", "--no-guess"}
	switch {
	case create && exists:
		return domain.Errorf(domain.CodeConflict, "branch %s already exists", branch)
	case !create && !exists:
		return domain.Errorf(domain.CodeNotFound, "branch %s does not exist", branch)
	case create:
		args = append(args, "--create", branch)
	default:
		args = append(args, branch)
	}
	res, err = w.git(ctx, nil, gitOutputCap, nil, args...)
	if err != nil {
		return err
	}
	if res.exit != 0 {
		msg := "cannot switch branches"
		if strings.Contains(res.stderr, "would be overwritten") {
			msg = "cannot switch branches: local changes would be overwritten"
		}
		return &domain.Error{Code: domain.CodeConflict, Message: msg, Err: errors.New(res.stderr)}
	}
	return nil
}

// checkBranchName refuses anything git would not take as a plain branch name. The leading
// dash is refused before git sees the name at all, so it can never be parsed as an option
// ("--upload-pack=...", "-b"); check-ref-format then applies git's own rules, and its output
// must be the name itself, because it expands "@{-1}" to whatever branch that was.
func (w *Workspace) checkBranchName(ctx context.Context, branch string) error {
	bad := invalidField("branch", "is not a valid branch name")
	if branch == "" || strings.HasPrefix(branch, "-") || len(branch) > 255 || strings.IndexByte(branch, 0) >= 0 {
		return bad
	}
	res, err := w.git(ctx, nil, gitOutputCap, nil, "check-ref-format", "--branch", branch)
	if err != nil {
		return err
	}
	// git accepts "HEAD" and "@" here, but as branches they would shadow HEAD itself.
	if res.exit != 0 || strings.TrimSpace(string(res.out)) != branch || branch == "HEAD" || branch == "@" {
		return bad
	}
	return nil
}
