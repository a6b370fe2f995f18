package workspace_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/workspace"
)

// fixture is a workspace next to a directory it must never reach.
type fixture struct {
	base    string // parent of root and outside
	root    string
	outside string
	ws      *workspace.Workspace
}

const sentinel = "outside sentinel\n"

func newFixture(t *testing.T) fixture {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	mustMkdir(t, f.outside)
	mustWriteFile(t, filepath.Join(f.outside, "secret.txt"), sentinel)
	f.ws, err = workspace.Create(f.root)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWriteFile(t *testing.T, name, content string) {
	t.Helper()
	mustMkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func code(err error) domain.Code {
	if err == nil {
		return ""
	}
	return domain.ErrorCode(err)
}

func wantCode(t *testing.T, err error, want domain.Code) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// snapshot records everything below dir, so a test can prove that nothing at all changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + hashOf(string(b))
		}
		snap[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func diffSnapshots(before, after map[string]string) []string {
	var diffs []string
	for p, d := range before {
		if after[p] != d {
			diffs = append(diffs, fmt.Sprintf("changed or removed: %s", p))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("created: %s", p))
		}
	}
	slices.Sort(diffs)
	return diffs
}

func TestOpenAndCreate(t *testing.T) {
	dir := t.TempDir()
	_, err := workspace.Open("relative/root")
	wantCode(t, err, domain.CodeInvalid)
	_, err = workspace.Open(filepath.Join(dir, "missing"))
	wantCode(t, err, domain.CodeNotFound)
	mustWriteFile(t, filepath.Join(dir, "file"), "x")
	_, err = workspace.Open(filepath.Join(dir, "file"))
	wantCode(t, err, domain.CodeConflict)

	root := filepath.Join(dir, "a", "b")
	ws, err := workspace.Create(root)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Root() != root {
		t.Fatalf("Root() = %q, want %q", ws.Root(), root)
	}
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&^0o750 != 0 {
		t.Fatalf("created root: %v, %v", fi, err)
	}
	if _, err := workspace.Create(root); err != nil {
		t.Fatalf("Create on an existing root: %v", err)
	}
}

// TestEscapesAreRefusedEverywhere sends every way out of the root through every operation and
// requires a refusal with nothing changed, inside or outside the root.
func TestEscapesAreRefusedEverywhere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.ws
	if err := ws.GitInit(ctx); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(f.root, "file.txt"), "inside\n")
	mustMkdir(t, filepath.Join(f.root, "sub"))
	mustSymlink(t, "../outside/secret.txt", filepath.Join(f.root, "out-file"))
	mustSymlink(t, "../outside", filepath.Join(f.root, "out-dir"))
	mustSymlink(t, f.outside, filepath.Join(f.root, "out-abs"))
	mustSymlink(t, "../../outside", filepath.Join(f.root, "sub", "up"))
	mustSymlink(t, "/etc", filepath.Join(f.root, "etc"))
	mustSymlink(t, "../outside/new.txt", filepath.Join(f.root, "dangling-out"))
	mustSymlink(t, ".git", filepath.Join(f.root, "git-link"))
	if err := ws.GitStage(ctx, []string{"file.txt"}); err != nil {
		t.Fatal(err)
	}

	escapes := []string{
		"../x",
		"a/../../x",
		"../outside/secret.txt",
		"/etc/passwd",
		f.outside + "/secret.txt",
		"%2e%2e/x",
		"%2E%2E%2Fx",
		"%252e%252e/x",
		"..%2fx",
		"..%5cx",
		`..\x`,
		`a\..\..\x`,
		`\etc\passwd`,
		"C:/x",
		"~/x",
		"file.txt\x00.png",
		"a\x00",
		"\uff0e\uff0e/x", // fullwidth dots
		"..\u2215x",      // division slash
		"\u2025/x",       // two dot leader
		"sub\uff0f..\uff0f..\uff0fx",
		"out-file", // symlink to a file outside
		"out-dir/secret.txt",
		"out-dir/new.txt", // symlinked directory, new file
		"out-dir/newdir/x",
		"out-abs/secret.txt",
		"sub/up/secret.txt",
		"etc/passwd",
		"dangling-out",
		".git",
		".git/config",
		".GIT/config",
		"sub/../.git/HEAD",
		"git-link/config",
		"git-link/hooks/pre-commit",
	}
	type op func(p string) error
	ops := []struct {
		name string
		run  op
	}{
		{"Tree", func(p string) error { _, _, err := ws.Tree(p, 2, 0); return err }},
		{"Stat", func(p string) error { _, err := ws.Stat(p); return err }},
		{"Read", func(p string) error { _, _, err := ws.Read(p, 0, 0); return err }},
		{"Open", func(p string) error {
			fh, _, err := ws.Open(p)
			if fh != nil {
				fh.Close()
			}
			return err
		}},
		{"Hash", func(p string) error { _, err := ws.Hash(p); return err }},
		{"Write", func(p string) error { _, _, err := ws.Write(p, strings.NewReader("pwned"), 0, ""); return err }},
		{"Mkdir", func(p string) error { _, err := ws.Mkdir(p); return err }},
		{"MoveFrom", func(p string) error { return ws.Move(p, "moved") }},
		{"MoveTo", func(p string) error { return ws.Move("file.txt", p) }},
		{"Delete", func(p string) error { return ws.Delete(p, true) }},
		{"SearchDir", func(p string) error { _, _, err := ws.Search(ctx, p, "x", "", 0); return err }},
		{"SearchGlob", func(p string) error { _, _, err := ws.Search(ctx, "", "x", p, 0); return err }},
		{"GitStage", func(p string) error { return ws.GitStage(ctx, []string{"file.txt", p}) }},
		{"GitUnstage", func(p string) error { return ws.GitUnstage(ctx, []string{p}) }},
		{"GitDiff", func(p string) error { _, _, err := ws.GitDiff(ctx, p, false); return err }},
	}

	before := snapshot(t, f.base)
	for _, o := range ops {
		for _, p := range escapes {
			err := o.run(p)
			if c := code(err); c != domain.CodeForbidden && c != domain.CodeInvalid {
				t.Errorf("%s(%q): code %q (%v), want forbidden or invalid", o.name, p, c, err)
			}
			var de *domain.Error
			if errors.As(err, &de) && strings.Contains(de.Message, f.base) {
				t.Errorf("%s(%q): message reveals the root: %q", o.name, p, de.Message)
			}
		}
	}
	if d := diffSnapshots(before, snapshot(t, f.base)); len(d) > 0 {
		t.Fatalf("refused operations changed the disk:\n%s", strings.Join(d, "\n"))
	}
	if got := readFile(t, filepath.Join(f.outside, "secret.txt")); got != sentinel {
		t.Fatalf("sentinel changed: %q", got)
	}
	for _, p := range []string{"x", "moved", "new.txt"} {
		if _, err := os.Lstat(filepath.Join(f.base, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists outside the root", p)
		}
	}
}

func TestSymlinksInsideTheRoot(t *testing.T) {
	f := newFixture(t)
	mustWriteFile(t, filepath.Join(f.root, "sub", "target.txt"), "target\n")
	mustSymlink(t, "sub", filepath.Join(f.root, "in-dir"))
	mustSymlink(t, "sub/target.txt", filepath.Join(f.root, "in-file"))
	mustSymlink(t, filepath.Join(f.root, "sub", "target.txt"), filepath.Join(f.root, "in-abs"))

	data, e, err := f.ws.Read("in-dir/target.txt", 0, 0)
	if err != nil || string(data) != "target\n" {
		t.Fatalf("read through an inside directory link: %q, %v", data, err)
	}
	if e.Path != "in-dir/target.txt" {
		t.Fatalf("path = %q", e.Path)
	}
	e, err = f.ws.Stat("in-file")
	if err != nil || !e.Symlink || e.Dir || e.Size != int64(len("target\n")) {
		t.Fatalf("stat of an inside file link: %+v, %v", e, err)
	}
	// os.Root does not follow absolute links, even ones that stay inside; refusing is the safe
	// side of that difference.
	_, _, err = f.ws.Read("in-abs", 0, 0)
	wantCode(t, err, domain.CodeForbidden)

	// A write to a link replaces the link; it never writes through it.
	if _, _, err := f.ws.Write("in-file", strings.NewReader("replaced\n"), 0, ""); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(f.root, "sub", "target.txt")); got != "target\n" {
		t.Fatalf("link target changed: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(f.root, "in-file")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("in-file is not a regular file now: %v, %v", fi, err)
	}
	// Delete removes the link, not what it points to.
	if err := f.ws.Delete("in-dir", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "sub", "target.txt")); err != nil {
		t.Fatalf("deleting a link removed its target: %v", err)
	}
}

func TestDeleteMkdirMove(t *testing.T) {
	f := newFixture(t)
	ws := f.ws
	wantCode(t, ws.Delete(".", true), domain.CodeForbidden)
	wantCode(t, ws.Delete("", true), domain.CodeInvalid)
	wantCode(t, ws.Delete("missing", false), domain.CodeNotFound)

	e, err := ws.Mkdir("a/b/c")
	if err != nil || !e.Dir || e.Path != "a/b/c" || e.Name != "c" {
		t.Fatalf("Mkdir: %+v, %v", e, err)
	}
	_, err = ws.Mkdir("a/b")
	wantCode(t, err, domain.CodeConflict)
	mustWriteFile(t, filepath.Join(f.root, "a", "b", "c", "f.txt"), "x")
	_, err = ws.Mkdir("a/b/c/f.txt/d")
	wantCode(t, err, domain.CodeConflict)

	wantCode(t, ws.Delete("a", false), domain.CodeConflict)
	mustWriteFile(t, filepath.Join(f.root, "other.txt"), "o")
	wantCode(t, ws.Move("other.txt", "a/b/c/f.txt"), domain.CodeConflict)
	if got := readFile(t, filepath.Join(f.root, "a", "b", "c", "f.txt")); got != "x" {
		t.Fatalf("Move overwrote its destination: %q", got)
	}
	wantCode(t, ws.Move("a", "a/b/inside"), domain.CodeInvalid)
	wantCode(t, ws.Move("missing", "new"), domain.CodeNotFound)
	wantCode(t, ws.Move(".", "new"), domain.CodeInvalid)
	if err := ws.Move("other.txt", "x/y/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(f.root, "x", "y", "moved.txt")); got != "o" {
		t.Fatalf("moved content = %q", got)
	}
	// A refused destination names the argument at fault.
	err = ws.Move("x", "../escape")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeForbidden || len(de.Fields) == 0 || de.Fields[0].Field != "to" {
		t.Fatalf("Move to ../escape: %#v", err)
	}

	if err := ws.Delete("a", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a still exists: %v", err)
	}
	if err := ws.Delete("x/y/moved.txt", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.root); err != nil {
		t.Fatalf("root is gone: %v", err)
	}
}

// genReader produces n bytes of a fixed pattern without ever holding them.
type genReader struct{ off, n int64 }

func genByte(i int64) byte { return byte(i*7 + i>>10) }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), g.n-g.off)
	for i := range k {
		p[i] = genByte(g.off + i)
	}
	g.off += k
	return int(k), nil
}

func TestLargeFileStreams(t *testing.T) {
	f := newFixture(t)
	const size = 50 << 20
	want := sha256.New()
	if _, err := io.Copy(want, &genReader{n: size}); err != nil {
		t.Fatal(err)
	}
	wantHash := hex.EncodeToString(want.Sum(nil))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, sum, err := f.ws.Write("big/data.bin", &genReader{n: size}, size, "")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("writing 50 MiB allocated %d bytes; the content is buffered", alloc)
	}
	if sum != wantHash || e.Size != size || !e.Binary || e.Path != "big/data.bin" {
		t.Fatalf("Write: %+v, hash %s (want %s)", e, sum, wantHash)
	}

	off := int64(30<<20 + 123)
	data, e, err := f.ws.Read("big/data.bin", off, 4096)
	if err != nil || len(data) != 4096 || e.Size != size {
		t.Fatalf("Read range: %d bytes, %+v, %v", len(data), e, err)
	}
	for i, b := range data {
		if b != genByte(off+int64(i)) {
			t.Fatalf("byte %d of the range is %d, want %d", i, b, genByte(off+int64(i)))
		}
	}
	data, _, err = f.ws.Read("big/data.bin", 0, 0)
	if err != nil || len(data) != workspace.MaxReadBytes {
		t.Fatalf("default read length: %d, %v", len(data), err)
	}
	data, _, err = f.ws.Read("big/data.bin", 0, size)
	if err != nil || len(data) != workspace.MaxReadBytes {
		t.Fatalf("read length is not capped: %d, %v", len(data), err)
	}
	data, _, err = f.ws.Read("big/data.bin", size-10, 100)
	if err != nil || len(data) != 10 {
		t.Fatalf("read at the end: %d, %v", len(data), err)
	}
	data, _, err = f.ws.Read("big/data.bin", size+10, 100)
	if err != nil || len(data) != 0 {
		t.Fatalf("read past the end: %d, %v", len(data), err)
	}
	_, _, err = f.ws.Read("big/data.bin", -1, 10)
	wantCode(t, err, domain.CodeInvalid)

	fh, e, err := f.ws.Open("big/data.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	_, err = io.Copy(got, fh)
	fh.Close()
	if err != nil || hex.EncodeToString(got.Sum(nil)) != wantHash || e.Size != size {
		t.Fatalf("streamed download differs: %v", err)
	}
	if h, err := f.ws.Hash("big/data.bin"); err != nil || h != wantHash {
		t.Fatalf("Hash = %s, %v", h, err)
	}

	// One byte over the limit is refused, and the file keeps its content.
	_, _, err = f.ws.Write("big/data.bin", &genReader{n: 1<<20 + 1}, 1<<20, "")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || len(de.Fields) != 1 || de.Fields[0].Field != "content" {
		t.Fatalf("oversized write: %#v", err)
	}
	if h, _ := f.ws.Hash("big/data.bin"); h != wantHash {
		t.Fatal("a refused write changed the file")
	}
	assertNoTempFiles(t, filepath.Join(f.root, "big"))
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".gathering-tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestBinaryDetection(t *testing.T) {
	f := newFixture(t)
	split := strings.Repeat("a", 8<<10-1) + "é" + strings.Repeat("b", 100) // é straddles 8 KiB
	cases := []struct {
		name, content string
		binary        bool
	}{
		{"empty.txt", "", false},
		{"text.txt", "hello\nworld\n", false},
		{"utf8.txt", "grüße, 日本語\n", false},
		{"split.txt", split, false},
		{"nul.bin", "abc\x00def", true},
		{"latin1.bin", "caf\xe9\n", true},
		{"late-nul.txt", strings.Repeat("a", 8<<10) + "\x00", false}, // beyond the sniffed head
	}
	for _, c := range cases {
		e, _, err := f.ws.Write(c.name, strings.NewReader(c.content), 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if e.Binary != c.binary {
			t.Errorf("Write(%s).Binary = %v, want %v", c.name, e.Binary, c.binary)
		}
		if e, err := f.ws.Stat(c.name); err != nil || e.Binary != c.binary {
			t.Errorf("Stat(%s).Binary = %v (%v), want %v", c.name, e.Binary, err, c.binary)
		}
		if _, e, err := f.ws.Read(c.name, 0, 1); err != nil || e.Binary != c.binary {
			t.Errorf("Read(%s).Binary = %v (%v), want %v", c.name, e.Binary, err, c.binary)
		}
	}
}

// failingReader hands out some content, then fails like a dropped connection.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial new content"), nil
	}
	return 0, errors.New("connection reset")
}

func TestWriteIsAtomicAndConditional(t *testing.T) {
	f := newFixture(t)
	ws := f.ws
	target := filepath.Join(f.root, "doc", "a.txt")

	e, h1, err := ws.Write("doc/a.txt", strings.NewReader("old\n"), 0, "")
	if err != nil || h1 != hashOf("old\n") || e.Size != 4 || e.Name != "a.txt" {
		t.Fatalf("first write: %+v %s %v", e, h1, err)
	}

	_, _, err = ws.Write("doc/a.txt", &failingReader{}, 0, "")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Field != "content" {
		t.Fatalf("failed stream: %#v", err)
	}
	if got := readFile(t, target); got != "old\n" {
		t.Fatalf("failed write left %q", got)
	}
	assertNoTempFiles(t, filepath.Dir(target))

	// Permissions of an existing file survive a rewrite.
	if err := os.Chmod(target, 0o600); err != nil {
		t.Fatal(err)
	}
	_, h2, err := ws.Write("doc/a.txt", strings.NewReader("new\n"), 0, h1)
	if err != nil || h2 != hashOf("new\n") {
		t.Fatalf("conditional write: %s %v", h2, err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rewrite = %v", fi.Mode())
	}
	_, _, err = ws.Write("doc/a.txt", strings.NewReader("stale\n"), 0, h1)
	wantCode(t, err, domain.CodeVersionConflict)
	if got := readFile(t, target); got != "new\n" {
		t.Fatalf("stale write changed the file to %q", got)
	}
	_, _, err = ws.Write("doc/missing.txt", strings.NewReader("x"), 0, h1)
	wantCode(t, err, domain.CodeVersionConflict)
	if _, err := os.Stat(filepath.Join(f.root, "doc", "missing.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused conditional write created the file")
	}
	assertNoTempFiles(t, filepath.Dir(target))

	_, _, err = ws.Write("doc", strings.NewReader("x"), 0, "")
	wantCode(t, err, domain.CodeConflict)
	_, _, err = ws.Write(".", strings.NewReader("x"), 0, "")
	wantCode(t, err, domain.CodeInvalid)
	_, _, err = ws.Write("doc/a.txt/child", strings.NewReader("x"), 0, "")
	wantCode(t, err, domain.CodeConflict)

	// Writers racing with the same expected hash: exactly one wins.
	const writers = 8
	var wg sync.WaitGroup
	results := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, results[i] = ws.Write("doc/a.txt", strings.NewReader(fmt.Sprintf("writer %d\n", i)), 0, h2)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch code(err) {
		case "":
			wins++
		case domain.CodeVersionConflict:
		default:
			t.Errorf("racing write: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing writers won, want 1", wins)
	}
	assertNoTempFiles(t, filepath.Dir(target))
}

func TestTree(t *testing.T) {
	f := newFixture(t)
	for name, content := range map[string]string{
		"a.txt":       "a",
		"b/c.txt":     "cc",
		"b/d/e.txt":   "eee",
		"b/d/f/g.txt": "g",
		".git/HEAD":   "ref: refs/heads/main\n",
		"b/.git/x":    "nested repository",
		"z.txt":       "z",
	} {
		mustWriteFile(t, filepath.Join(f.root, name), content)
	}
	mustSymlink(t, "b", filepath.Join(f.root, "link"))

	paths := func(es []workspace.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Path)
		}
		return out
	}
	check := func(p string, depth, limit int, want []string, wantTrunc bool) []workspace.Entry {
		t.Helper()
		es, trunc, err := f.ws.Tree(p, depth, limit)
		if err != nil {
			t.Fatalf("Tree(%q, %d, %d): %v", p, depth, limit, err)
		}
		if !slices.Equal(paths(es), want) || trunc != wantTrunc {
			t.Fatalf("Tree(%q, %d, %d) = %v truncated=%v, want %v truncated=%v", p, depth, limit, paths(es), trunc, want, wantTrunc)
		}
		return es
	}
	es := check(".", 1, 0, []string{"a.txt", "b", "link", "z.txt"}, false)
	if !es[1].Dir || es[1].Symlink || es[0].Size != 1 || es[0].Dir || !strings.HasPrefix(es[0].Mode, "-rw") || es[0].ModTime.IsZero() {
		t.Fatalf("entries: %+v", es)
	}
	if !es[2].Symlink || !es[2].Dir {
		t.Fatalf("link entry: %+v", es[2])
	}
	check(".", 0, 0, []string{"a.txt", "b", "link", "z.txt"}, false)
	check(".", 2, 0, []string{"a.txt", "b", "link", "z.txt", "b/c.txt", "b/d"}, false)
	check(".", 10, 0, []string{"a.txt", "b", "link", "z.txt", "b/c.txt", "b/d", "b/d/e.txt", "b/d/f", "b/d/f/g.txt"}, false)
	check(".", 10, 5, []string{"a.txt", "b", "link", "z.txt", "b/c.txt"}, true)
	check(".", 10, 9, []string{"a.txt", "b", "link", "z.txt", "b/c.txt", "b/d", "b/d/e.txt", "b/d/f", "b/d/f/g.txt"}, false)
	check(".", 1, 4, []string{"a.txt", "b", "link", "z.txt"}, false)
	check(".", 1, 3, []string{"a.txt", "b", "link"}, true)
	check("b", 1, 0, []string{"b/c.txt", "b/d"}, false)
	check("link", 1, 0, []string{"link/c.txt", "link/d"}, false)

	_, _, err := f.ws.Tree("a.txt", 1, 0)
	wantCode(t, err, domain.CodeConflict)
	_, _, err = f.ws.Tree("missing", 1, 0)
	wantCode(t, err, domain.CodeNotFound)
	_, _, err = f.ws.Tree("b/.git", 1, 0)
	wantCode(t, err, domain.CodeForbidden)
}

func TestSearch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	long := strings.Repeat("x", 600) + " hello " + strings.Repeat("y", 600)
	for name, content := range map[string]string{
		"README.md":       "HELLO there\nnothing\n",
		"src/main.go":     "package main\n\nfunc Hello() {}\r\n// hello world\n",
		"src/util.go":     "package main\n",
		"src/long.txt":    long + "\n",
		"data.bin":        "hello\x00binary",
		".git/HEAD":       "hello from git metadata\n",
		"vendor/.git/obj": "hello from a nested repository\n",
		"big.txt":         strings.Repeat("hello big file\n", (workspace.MaxSearchFileBytes/15)+1),
	} {
		mustWriteFile(t, filepath.Join(f.root, name), content)
	}
	mustSymlink(t, "README.md", filepath.Join(f.root, "readme-link"))

	type hit struct {
		path string
		line int
	}
	hits := func(ms []workspace.Match) []hit {
		var out []hit
		for _, m := range ms {
			out = append(out, hit{m.Path, m.Line})
		}
		return out
	}
	ms, trunc, err := f.ws.Search(ctx, "", "HeLLo", "", 0)
	if err != nil || trunc {
		t.Fatalf("Search: %v truncated=%v", err, trunc)
	}
	want := []hit{{"README.md", 1}, {"src/long.txt", 1}, {"src/main.go", 3}, {"src/main.go", 4}}
	if !slices.Equal(hits(ms), want) {
		t.Fatalf("Search hits = %v, want %v", hits(ms), want)
	}
	if ms[0].Text != "HELLO there" || ms[2].Text != "func Hello() {}" {
		t.Fatalf("match texts: %q, %q", ms[0].Text, ms[2].Text)
	}
	if len(ms[1].Text) > 500 {
		t.Fatalf("long line returned whole: %d bytes", len(ms[1].Text))
	}

	ms, _, err = f.ws.Search(ctx, "", "hello", "*.go", 0)
	if err != nil || !slices.Equal(hits(ms), []hit{{"src/main.go", 3}, {"src/main.go", 4}}) {
		t.Fatalf("glob *.go: %v %v", hits(ms), err)
	}
	ms, _, err = f.ws.Search(ctx, "", "hello", "src/*.txt", 0)
	if err != nil || !slices.Equal(hits(ms), []hit{{"src/long.txt", 1}}) {
		t.Fatalf("glob src/*.txt: %v %v", hits(ms), err)
	}
	ms, _, err = f.ws.Search(ctx, "src", "package", "", 0)
	if err != nil || !slices.Equal(hits(ms), []hit{{"src/main.go", 1}, {"src/util.go", 1}}) {
		t.Fatalf("search in src: %v %v", hits(ms), err)
	}
	ms, trunc, err = f.ws.Search(ctx, "", "hello", "", 2)
	if err != nil || !trunc || len(ms) != 2 {
		t.Fatalf("limited search: %v truncated=%v %v", hits(ms), trunc, err)
	}
	ms, trunc, err = f.ws.Search(ctx, "", "hello", "", 4)
	if err != nil || trunc || len(ms) != 4 {
		t.Fatalf("search with an exact limit: %v truncated=%v %v", hits(ms), trunc, err)
	}
	ms, _, err = f.ws.Search(ctx, "", "no such text", "", 0)
	if err != nil || len(ms) != 0 {
		t.Fatalf("search without hits: %v %v", ms, err)
	}

	for _, q := range []string{"", "   ", "a\nb", strings.Repeat("q", workspace.MaxQueryLen+1)} {
		_, _, err = f.ws.Search(ctx, "", q, "", 0)
		wantCode(t, err, domain.CodeInvalid)
	}
	_, _, err = f.ws.Search(ctx, "", "hello", "[", 0)
	wantCode(t, err, domain.CodeInvalid)
	_, _, err = f.ws.Search(ctx, "missing", "hello", "", 0)
	wantCode(t, err, domain.CodeNotFound)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = f.ws.Search(cancelled, "", "hello", "", 0)
	wantCode(t, err, domain.CodeTimeout)
}

// gitStatusOf flattens a status for comparison.
func gitStatusOf(t *testing.T, ws *workspace.Workspace) (workspace.GitStatus, map[string]string) {
	t.Helper()
	st, err := ws.GitStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range st.Files {
		switch {
		case f.Untracked:
			files[f.Path] = "??"
		case f.OrigPath != "":
			files[f.Path] = f.Index + f.WorkTree + "<" + f.OrigPath
		default:
			files[f.Path] = "[" + f.Index + "][" + f.WorkTree + "]"
		}
	}
	return st, files
}

func wantFiles(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("status files = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("status files = %v, want %v", got, want)
		}
	}
}

func TestGit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ws := f.ws

	// Nothing from the machine's or the caller's environment reaches git.
	home := t.TempDir()
	mustWriteFile(t, filepath.Join(home, ".gitconfig"), "[core]\n\thooksPath = "+filepath.Join(home, "hooks")+"\n[user]\n\tname = Leaked\n\temail = leaked@example.com\n")
	mustWriteFile(t, filepath.Join(home, "hooks", "pre-commit"), "#!/bin/sh\ntouch "+filepath.Join(home, "global-hook-ran")+"\n")
	if err := os.Chmod(filepath.Join(home, "hooks", "pre-commit"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("GIT_DIR", filepath.Join(f.outside, "not-a-repo"))
	t.Setenv("GIT_AUTHOR_NAME", "Leaked")

	_, err := ws.GitStatus(ctx)
	wantCode(t, err, domain.CodeConflict)
	if err := ws.GitInit(ctx); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ws.GitInit(ctx), domain.CodeConflict)

	// A hook and an fsmonitor command planted in the repository must not run either.
	marker := filepath.Join(f.outside, "repo-hook-ran")
	mustWriteFile(t, filepath.Join(f.root, ".git", "hooks", "pre-commit"), "#!/bin/sh\ntouch "+marker+"\n")
	if err := os.Chmod(filepath.Join(f.root, ".git", "hooks", "pre-commit"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := exec.Command("git", "config", "core.fsmonitor", "touch "+marker+"-fsmonitor; false")
	cfg.Dir = f.root
	cfg.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1"}
	if out, err := cfg.CombinedOutput(); err != nil {
		t.Fatalf("git config: %v %s", err, out)
	}

	st, files := gitStatusOf(t, ws)
	if st.Branch != "main" || st.Head != "" || len(files) != 0 {
		t.Fatalf("fresh status: %+v", st)
	}
	branches, err := ws.GitBranches(ctx)
	if err != nil || len(branches) != 1 || branches[0] != (workspace.Branch{Name: "main", Current: true}) {
		t.Fatalf("fresh branches: %+v %v", branches, err)
	}
	log, err := ws.GitLog(ctx, 0)
	if err != nil || len(log) != 0 {
		t.Fatalf("fresh log: %+v %v", log, err)
	}

	for name, content := range map[string]string{
		"hello.txt": "hello\n",
		"--all":     "a file named like an option\n",
		"*.txt":     "a file named like a pattern\n",
		"other.txt": "other\n",
	} {
		if _, _, err := ws.Write(name, strings.NewReader(content), 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, files = gitStatusOf(t, ws)
	wantFiles(t, files, map[string]string{"hello.txt": "??", "--all": "??", "*.txt": "??", "other.txt": "??"})

	// "--all" and "*.txt" are file names here, not an option and a pattern.
	if err := ws.GitStage(ctx, []string{"hello.txt", "--all", "*.txt"}); err != nil {
		t.Fatal(err)
	}
	_, files = gitStatusOf(t, ws)
	wantFiles(t, files, map[string]string{"hello.txt": "[A][]", "--all": "[A][]", "*.txt": "[A][]", "other.txt": "??"})
	if err := ws.GitUnstage(ctx, []string{"*.txt"}); err != nil {
		t.Fatal(err)
	}
	_, files = gitStatusOf(t, ws)
	wantFiles(t, files, map[string]string{"hello.txt": "[A][]", "--all": "[A][]", "*.txt": "??", "other.txt": "??"})
	wantCode(t, ws.GitStage(ctx, []string{"missing.txt"}), domain.CodeNotFound)
	wantCode(t, ws.GitStage(ctx, nil), domain.CodeInvalid)

	diff, trunc, err := ws.GitDiff(ctx, "", true)
	if err != nil || trunc || !strings.Contains(diff, "+++ b/hello.txt") || !strings.Contains(diff, "+hello") {
		t.Fatalf("staged diff: %q %v", diff, err)
	}
	diff, _, err = ws.GitDiff(ctx, "", false)
	if err != nil || diff != "" {
		t.Fatalf("unstaged diff before any change: %q %v", diff, err)
	}

	for _, c := range []struct{ msg, name, email, field string }{
		{"", "Ann", "ann@example.com", "message"},
		{"  \n", "Ann", "ann@example.com", "message"},
		{"msg", "", "ann@example.com", "author_name"},
		{"msg", "Ann <evil@example.com>", "ann@example.com", "author_name"},
		{"msg", "Ann\nEvil", "ann@example.com", "author_name"},
		{"msg", "Ann", "not-an-email", "author_email"},
		{"msg", "Ann", "ann@example.com>", "author_email"},
	} {
		_, err := ws.GitCommit(ctx, c.msg, c.name, c.email)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Field != c.field {
			t.Errorf("GitCommit(%q, %q, %q): %v, want invalid %s", c.msg, c.name, c.email, err, c.field)
		}
	}
	first, err := ws.GitCommit(ctx, "#1 first commit\n\nWith a body.\n", "Ann Author", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Hash) != 40 || first.Subject != "#1 first commit" || first.Body != "With a body." ||
		first.AuthorName != "Ann Author" || first.AuthorEmail != "ann@example.com" || len(first.Parents) != 0 || first.AuthorTime.IsZero() {
		t.Fatalf("commit: %+v", first)
	}
	_, err = ws.GitCommit(ctx, "again", "Ann Author", "ann@example.com")
	wantCode(t, err, domain.CodeConflict)
	for _, m := range []string{marker, marker + "-fsmonitor", filepath.Join(home, "global-hook-ran")} {
		if _, err := os.Stat(m); err == nil {
			t.Fatalf("%s exists: a hook or fsmonitor ran", m)
		}
	}

	if _, _, err := ws.Write("hello.txt", strings.NewReader("hello again\n"), 0, ""); err != nil {
		t.Fatal(err)
	}
	st, files = gitStatusOf(t, ws)
	if st.Head != first.Hash || st.Branch != "main" {
		t.Fatalf("status after commit: %+v", st)
	}
	wantFiles(t, files, map[string]string{"hello.txt": "[][M]", "*.txt": "??", "other.txt": "??"})
	diff, _, err = ws.GitDiff(ctx, "hello.txt", false)
	if err != nil || !strings.Contains(diff, "-hello\n") || !strings.Contains(diff, "+hello again\n") {
		t.Fatalf("working tree diff: %q %v", diff, err)
	}
	diff, _, err = ws.GitDiff(ctx, "other.txt", false)
	if err != nil || diff != "" {
		t.Fatalf("diff limited to an untracked path: %q %v", diff, err)
	}

	// A rename shows with its source once both sides are staged.
	if err := ws.Move("--all", "renamed.txt"); err != nil {
		t.Fatal(err)
	}
	if err := ws.GitStage(ctx, []string{"--all", "renamed.txt", "hello.txt"}); err != nil {
		t.Fatal(err)
	}
	_, files = gitStatusOf(t, ws)
	wantFiles(t, files, map[string]string{"renamed.txt": "R<--all", "hello.txt": "[M][]", "*.txt": "??", "other.txt": "??"})
	second, err := ws.GitCommit(ctx, "-m is a message, not an option", "Bob", "bob@example.com")
	if err != nil || second.Subject != "-m is a message, not an option" || !slices.Equal(second.Parents, []string{first.Hash}) {
		t.Fatalf("second commit: %+v %v", second, err)
	}
	log, err = ws.GitLog(ctx, 0)
	if err != nil || len(log) != 2 || log[0].Hash != second.Hash || log[1].Hash != first.Hash || log[1].Body != "With a body." {
		t.Fatalf("log: %+v %v", log, err)
	}
	if log, err := ws.GitLog(ctx, 1); err != nil || len(log) != 1 || log[0].Hash != second.Hash {
		t.Fatalf("log limited to 1: %+v %v", log, err)
	}

	if err := ws.GitCheckout(ctx, "feature/x", true); err != nil {
		t.Fatal(err)
	}
	branches, err = ws.GitBranches(ctx)
	if err != nil || len(branches) != 2 {
		t.Fatalf("branches: %+v %v", branches, err)
	}
	for _, b := range branches {
		if b.Hash != second.Hash || b.Current != (b.Name == "feature/x") {
			t.Fatalf("branches: %+v", branches)
		}
	}
	wantCode(t, ws.GitCheckout(ctx, "feature/x", true), domain.CodeConflict)
	wantCode(t, ws.GitCheckout(ctx, "nope", false), domain.CodeNotFound)
	if err := ws.GitCheckout(ctx, "main", false); err != nil {
		t.Fatal(err)
	}

	before := snapshot(t, f.base)
	for _, name := range []string{
		"--upload-pack=touch /tmp/pwned", "-b", "-", "--orphan", "-c", "", "@{-1}", "HEAD", "a..b",
		"a b", "a~1", "a^", "a:b", "a\x00b", "feature/", "/x", "x.lock", "a\\b", "@",
	} {
		if err := ws.GitCheckout(ctx, name, true); code(err) != domain.CodeInvalid {
			t.Errorf("GitCheckout(%q, create): %v, want invalid", name, err)
		}
		if err := ws.GitCheckout(ctx, name, false); code(err) != domain.CodeInvalid {
			t.Errorf("GitCheckout(%q): %v, want invalid", name, err)
		}
	}
	if d := diffSnapshots(before, snapshot(t, f.base)); len(d) > 0 {
		t.Fatalf("refused checkouts changed the disk:\n%s", strings.Join(d, "\n"))
	}
	st, _ = gitStatusOf(t, ws)
	if st.Branch != "main" {
		t.Fatalf("branch after refused checkouts = %q", st.Branch)
	}
}

func TestGitDiffIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.ws.GitInit(ctx); err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("z", 99) + "\n"
	content := strings.Repeat(line, workspace.MaxDiffBytes/len(line)+1000)
	if _, _, err := f.ws.Write("big.txt", strings.NewReader(content), 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.ws.GitStage(ctx, []string{"big.txt"}); err != nil {
		t.Fatal(err)
	}
	diff, trunc, err := f.ws.GitDiff(ctx, "", true)
	if err != nil || !trunc || len(diff) > workspace.MaxDiffBytes || !strings.HasSuffix(diff, "\n") {
		t.Fatalf("bounded diff: %d bytes, truncated=%v, %v", len(diff), trunc, err)
	}
}

// TestGitIgnoresEnclosingRepository: a workspace inside another repository is not part of it.
func TestGitIgnoresEnclosingRepository(t *testing.T) {
	f := newFixture(t)
	cmd := exec.Command("git", "init", "-q", f.base)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	_, err := f.ws.GitStatus(context.Background())
	wantCode(t, err, domain.CodeConflict)
	wantCode(t, f.ws.GitStage(context.Background(), []string{"."}), domain.CodeConflict)
}

func TestReadErrors(t *testing.T) {
	f := newFixture(t)
	mustMkdir(t, filepath.Join(f.root, "dir"))
	_, _, err := f.ws.Read("dir", 0, 0)
	wantCode(t, err, domain.CodeConflict)
	_, _, err = f.ws.Open("dir")
	wantCode(t, err, domain.CodeConflict)
	_, _, err = f.ws.Read("missing", 0, 0)
	wantCode(t, err, domain.CodeNotFound)
	_, err = f.ws.Stat("missing")
	wantCode(t, err, domain.CodeNotFound)
	e, err := f.ws.Stat(".")
	if err != nil || !e.Dir || e.Path != "." {
		t.Fatalf("Stat(.): %+v %v", e, err)
	}
}
