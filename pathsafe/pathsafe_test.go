package pathsafe_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pathsafe"
)

// fixture is a workspace root with a sibling directory outside it and symlinks of every kind.
type fixture struct {
	base     string // parent of root and outside
	root     string
	realRoot string
	rootLink string // a symlink to root, to use as a root itself
}

func newFixture(tb testing.TB, base string) fixture {
	tb.Helper()
	base, err := filepath.EvalSymlinks(base)
	if err != nil {
		tb.Fatal(err)
	}
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub", "deeper")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{
		filepath.Join(root, "file.txt"),
		filepath.Join(root, "sub", "file.txt"),
		filepath.Join(outside, "secret.txt"),
	} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	links := map[string]string{
		"root/inlink":          "sub",
		"root/inabs":           filepath.Join(root, "sub"),
		"root/selflink":        ".",
		"root/chainin1":        "chainin2",
		"root/chainin2":        "sub",
		"root/dangling-in":     "sub/new.txt",
		"root/sub/up":          "..",
		"root/outin":           "../outside/../root/sub", // leaves and comes back: only the end counts
		"root/etclink":         "/etc",
		"root/sibling":         "../outside",
		"root/siblingabs":      outside,
		"root/chain1":          "chain2",
		"root/chain2":          "../outside",
		"root/dangling-out":    "../outside/nope/new.txt",
		"root/dangling-etc":    "/etc/pathsafe-does-not-exist",
		"root/dangling-chain":  "dangling-out",
		"root/loop1":           "loop2",
		"root/loop2":           "loop1",
		"root/sub/upup":        "../..",
		"root/rootparent":      "..",
		"root/viaetc":          "sub/../etclink/../sub", // lexically "sub", really /sub
		"root/throughout":      "../outside",
		"outside/back":         "../root/sub",
		"rootlink":             "root",
		"root/sub/deeper/home": "../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			tb.Fatal(err)
		}
	}
	return fixture{base: base, root: root, realRoot: root, rootLink: filepath.Join(base, "rootlink")}
}

type tc struct {
	name    string
	path    string
	code    domain.Code // "" means accepted
	msg     string      // substring of the rejection message
	wantRel string      // for accepted paths
}

func runCases(t *testing.T, root string, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := pathsafe.Resolve(root, c.path)
			rel, relErr := pathsafe.Rel(root, c.path)
			if c.code != "" {
				assertRejected(t, err, c.code, c.msg)
				assertRejected(t, relErr, c.code, c.msg)
				if got != "" || rel != "" {
					t.Errorf("rejected path returned %q / %q", got, rel)
				}
				return
			}
			if err != nil || relErr != nil {
				t.Fatalf("Resolve(%q) = %v, Rel = %v; want accepted", c.path, err, relErr)
			}
			want := filepath.Join(root, filepath.FromSlash(c.wantRel))
			if got != want {
				t.Errorf("Resolve(%q) = %q, want %q", c.path, got, want)
			}
			if rel != c.wantRel {
				t.Errorf("Rel(%q) = %q, want %q", c.path, rel, c.wantRel)
			}
		})
	}
}

func assertRejected(t *testing.T, err error, code domain.Code, msg string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want *domain.Error with code %s", err, err, code)
	}
	if de.Code != code {
		t.Errorf("code = %s (%q), want %s", de.Code, de.Message, code)
	}
	if !strings.Contains(de.Message, msg) {
		t.Errorf("message = %q, want it to contain %q", de.Message, msg)
	}
	if len(de.Fields) != 1 || de.Fields[0].Field != "path" || de.Fields[0].Message == "" {
		t.Errorf("fields = %+v, want one field error on \"path\"", de.Fields)
	}
}

const (
	forbidden = domain.CodeForbidden
	invalid   = domain.CodeInvalid
)

func TestResolveLexical(t *testing.T) {
	root := newFixture(t, t.TempDir()).root
	runCases(t, root, []tc{
		// required and length
		{name: "empty", path: "", code: invalid, msg: "required"},
		{name: "too long", path: strings.Repeat("a/", 2049)[:4097], code: invalid, msg: "longer than 4096"},
		{name: "max length", path: strings.Repeat("a/", 2048), wantRel: strings.TrimSuffix(strings.Repeat("a/", 2048), "/")},
		{name: "segment too long", path: "x/" + strings.Repeat("s", 256), code: invalid, msg: "segment"},
		{name: "segment max", path: strings.Repeat("s", 255), wantRel: strings.Repeat("s", 255)},

		// traversal
		{name: "dotdot", path: "..", code: forbidden, msg: "traversal"},
		{name: "dotdot etc", path: "../etc/passwd", code: forbidden, msg: "traversal"},
		{name: "dotdot trailing", path: "a/..", code: forbidden, msg: "traversal"},
		{name: "dotdot cleans inside", path: "foo/../bar", code: forbidden, msg: "traversal"},
		{name: "dotdot deep", path: "foo/../../bar", code: forbidden, msg: "traversal"},
		{name: "backslash dotdot", path: `..\..\etc`, code: forbidden, msg: "traversal"},
		{name: "mixed separators", path: `a\../..\b`, code: forbidden, msg: "traversal"},

		// percent-encoding
		{name: "encoded dots", path: "%2e%2e/etc", code: forbidden, msg: "traversal"},
		{name: "encoded dots upper", path: "%2E%2E/etc", code: forbidden, msg: "traversal"},
		{name: "partially encoded", path: ".%2e/etc", code: forbidden, msg: "traversal"},
		{name: "partially encoded 2", path: "a/%2e./b", code: forbidden, msg: "traversal"},
		{name: "encoded slash", path: "..%2fetc", code: forbidden, msg: "traversal"},
		{name: "encoded backslash", path: "..%5Cetc", code: forbidden, msg: "traversal"},
		{name: "double encoded", path: "%252e%252e/etc", code: forbidden, msg: "traversal"},
		{name: "triple encoded", path: "%25252e%25252e%25252fetc", code: forbidden, msg: "traversal"},
		{name: "malformed then valid", path: "%%32%65%%32%65/etc", code: forbidden, msg: "traversal"},
		{name: "split escape", path: "%252%65%252%65/etc", code: forbidden, msg: "traversal"},
		{name: "eight rounds", path: "%" + strings.Repeat("25", 7) + "2ex", wantRel: ".x"},
		{name: "nine rounds", path: "%" + strings.Repeat("25", 8) + "2ex", code: forbidden, msg: "too many times"},
		{name: "literal percent", path: "100%.txt", wantRel: "100%.txt"},
		{name: "lone percent", path: "%", wantRel: "%"},
		{name: "bad escape", path: "%zz%2", wantRel: "%zz%2"},
		{name: "encoded percent", path: "50%25", wantRel: "50%"},
		{name: "encoded letter", path: "%41.txt", wantRel: "A.txt"},
		{name: "encoded separator", path: "a%2fb", wantRel: "a/b"},
		{name: "encoded utf8", path: "r%C3%A9sum%C3%A9.md", wantRel: "résumé.md"},

		// NUL and control characters
		{name: "nul", path: "a\x00b", code: forbidden, msg: "NUL"},
		{name: "encoded nul", path: "file.txt%00.png", code: forbidden, msg: "NUL"},
		{name: "double encoded nul", path: "a%2500b", code: forbidden, msg: "NUL"},
		{name: "newline", path: "a\nb", code: forbidden, msg: "control"},
		{name: "encoded newline", path: "a%0Ab", code: forbidden, msg: "control"},
		{name: "tab", path: "a\tb", code: forbidden, msg: "control"},
		{name: "escape sequence", path: "a\x1b[31m", code: forbidden, msg: "control"},
		{name: "del", path: "a\x7f", code: forbidden, msg: "control"},

		// absolute paths
		{name: "slash", path: "/etc/passwd", code: forbidden, msg: "absolute"},
		{name: "root slash", path: "/", code: forbidden, msg: "absolute"},
		{name: "backslash", path: `\etc\passwd`, code: forbidden, msg: "absolute"},
		{name: "unc", path: `\\server\share`, code: forbidden, msg: "absolute"},
		{name: "unc slashes", path: "//server/share", code: forbidden, msg: "absolute"},
		{name: "encoded slash lead", path: "%2fetc/passwd", code: forbidden, msg: "absolute"},
		{name: "encoded unc", path: "%5c%5cserver%5cshare", code: forbidden, msg: "absolute"},
		{name: "drive", path: `C:\Windows`, code: forbidden, msg: "absolute"},
		{name: "drive lower slash", path: "c:/x", code: forbidden, msg: "absolute"},
		{name: "drive bare", path: "C:", code: forbidden, msg: "absolute"},
		{name: "drive relative", path: "C:foo", code: forbidden, msg: "absolute"},
		{name: "drive after dot", path: "./C:/x", code: forbidden, msg: "absolute"},
		{name: "tilde", path: "~", code: forbidden, msg: "~"},
		{name: "tilde slash", path: "~/.ssh/id_rsa", code: forbidden, msg: "~"},
		{name: "tilde user", path: "~root/.ssh", code: forbidden, msg: "~"},
		{name: "encoded tilde", path: "%7e/x", code: forbidden, msg: "~"},
		{name: "tilde after dot", path: "./~x", code: forbidden, msg: "~"},

		// Unicode look-alikes and invalid UTF-8
		{name: "fullwidth dots", path: "\uff0e\uff0e/etc", code: forbidden, msg: "look-alike"},
		{name: "one dot leader", path: "\u2024\u2024/etc", code: forbidden, msg: "look-alike"},
		{name: "two dot leader", path: "\u2025/etc", code: forbidden, msg: "look-alike"},
		{name: "fullwidth slash", path: "..\uff0fetc", code: forbidden, msg: "look-alike"},
		{name: "division slash", path: "a\u2215b", code: forbidden, msg: "look-alike"},
		{name: "big solidus", path: "a\u29f8b", code: forbidden, msg: "look-alike"},
		{name: "encoded fullwidth dots", path: "%EF%BC%8E%EF%BC%8E/etc", code: forbidden, msg: "look-alike"},
		{name: "overlong dot", path: "%C0%AE%C0%AE/etc", code: forbidden, msg: "UTF-8"},
		{name: "invalid utf8", path: "a\xffb", code: forbidden, msg: "UTF-8"},

		// accepted
		{name: "dot", path: ".", wantRel: "."},
		{name: "dot slash", path: "./", wantRel: "."},
		{name: "simple", path: "a/b.txt", wantRel: "a/b.txt"},
		{name: "dot prefix", path: "./a", wantRel: "a"},
		{name: "inner dot", path: "a/./b", wantRel: "a/b"},
		{name: "trailing slash", path: "dir/", wantRel: "dir"},
		{name: "double slash", path: "a//b", wantRel: "a/b"},
		{name: "backslash separator", path: `a\b`, wantRel: "a/b"},
		{name: "dots inside name", path: "a..b", wantRel: "a..b"},
		{name: "three dots", path: "...", wantRel: "..."},
		{name: "three dots dir", path: ".../x", wantRel: ".../x"},
		{name: "leading dots", path: "..a", wantRel: "..a"},
		{name: "trailing dots", path: "a..", wantRel: "a.."},
		{name: "hidden", path: ".hidden", wantRel: ".hidden"},
		{name: "unicode", path: "résumé.md", wantRel: "résumé.md"},
		{name: "cjk", path: "日本語/ファイル.txt", wantRel: "日本語/ファイル.txt"},
		{name: "spaces", path: "my notes/a file.txt", wantRel: "my notes/a file.txt"},
		{name: "inner tilde", path: "a~b/~c", wantRel: "a~b/~c"},
		{name: "inner colon", path: "x/C:", wantRel: "x/C:"},
		{name: "existing file", path: "sub/file.txt", wantRel: "sub/file.txt"},
		{name: "new file in new dirs", path: "new/dir/file.txt", wantRel: "new/dir/file.txt"},
		{name: "below a file", path: "file.txt/x", wantRel: "file.txt/x"},
	})
}

func TestResolveSymlinks(t *testing.T) {
	fx := newFixture(t, t.TempDir())
	runCases(t, fx.root, []tc{
		{name: "link to dir inside", path: "inlink/file.txt", wantRel: "inlink/file.txt"},
		{name: "link itself", path: "inlink", wantRel: "inlink"},
		{name: "absolute link inside", path: "inabs/file.txt", wantRel: "inabs/file.txt"},
		{name: "link to root", path: "selflink/selflink/sub", wantRel: "selflink/selflink/sub"},
		{name: "chain inside", path: "chainin1/new.txt", wantRel: "chainin1/new.txt"},
		{name: "dangling inside", path: "dangling-in", wantRel: "dangling-in"},
		{name: "link up to root", path: "sub/up/file.txt", wantRel: "sub/up/file.txt"},
		{name: "out and back in", path: "outin/file.txt", wantRel: "outin/file.txt"},
		{name: "new below link", path: "inlink/a/b/c", wantRel: "inlink/a/b/c"},

		{name: "link to etc", path: "etclink/passwd", code: forbidden, msg: "symlink"},
		{name: "link to etc itself", path: "etclink", code: forbidden, msg: "symlink"},
		{name: "new file below outside link", path: "etclink/new/file", code: forbidden, msg: "symlink"},
		{name: "sibling", path: "sibling/secret.txt", code: forbidden, msg: "symlink"},
		{name: "sibling absolute", path: "siblingabs/secret.txt", code: forbidden, msg: "symlink"},
		{name: "chain ending outside", path: "chain1/secret.txt", code: forbidden, msg: "symlink"},
		{name: "dangling outside", path: "dangling-out", code: forbidden, msg: "symlink"},
		{name: "dangling etc", path: "dangling-etc", code: forbidden, msg: "symlink"},
		{name: "dangling chain outside", path: "dangling-chain", code: forbidden, msg: "symlink"},
		{name: "link above root", path: "sub/upup/outside", code: forbidden, msg: "symlink"},
		{name: "link to parent", path: "rootparent/root/file.txt", code: forbidden, msg: "symlink"},
		{name: "no lexical shortcut", path: "viaetc", code: forbidden, msg: "symlink"},
		{name: "through outside and back", path: "throughout/back/file.txt", code: forbidden, msg: "symlink"},
		{name: "deep link to base", path: "sub/deeper/home/outside", code: forbidden, msg: "symlink"},
		{name: "encoded link name", path: "etc%6cink/passwd", code: forbidden, msg: "symlink"},
		{name: "backslash link name", path: `sibling\secret.txt`, code: forbidden, msg: "symlink"},
		{name: "loop", path: "loop1/x", code: forbidden, msg: "too many levels"},
	})
}

func TestResolveRootIsSymlink(t *testing.T) {
	fx := newFixture(t, t.TempDir())
	runCases(t, fx.rootLink, []tc{
		{name: "inside", path: "sub/file.txt", wantRel: "sub/file.txt"},
		{name: "absolute link to real root", path: "inabs/file.txt", wantRel: "inabs/file.txt"},
		{name: "outside", path: "sibling/secret.txt", code: forbidden, msg: "symlink"},
	})
	got, err := pathsafe.Resolve(fx.rootLink+"/", "inlink")
	if err != nil || got != filepath.Join(fx.rootLink, "inlink") {
		t.Errorf("Resolve(root with trailing slash) = %q, %v", got, err)
	}
}

func TestResolveBadRoot(t *testing.T) {
	fx := newFixture(t, t.TempDir())
	for name, root := range map[string]string{
		"relative":    "root",
		"empty":       "",
		"missing":     filepath.Join(fx.base, "nope"),
		"file":        filepath.Join(fx.root, "file.txt"),
		"dangling":    filepath.Join(fx.root, "dangling-in"),
		"nul in root": fx.root + "\x00",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pathsafe.Resolve(root, "a")
			if code := domain.ErrorCode(err); code != domain.CodeInternal {
				t.Errorf("code = %s (%v), want %s", code, err, domain.CodeInternal)
			}
			if msg := domain.ErrorMessage(err); strings.Contains(msg, fx.base) {
				t.Errorf("client message leaks the root: %q", msg)
			}
		})
	}
}

func TestRelRoundTrip(t *testing.T) {
	fx := newFixture(t, t.TempDir())
	for _, p := range []string{".", "./a/./b/", `x\y\z`, "inlink/new.txt", "r%C3%A9sum%C3%A9.md", "%252541"} {
		rel, err := pathsafe.Rel(fx.root, p)
		if err != nil {
			t.Fatalf("Rel(%q): %v", p, err)
		}
		if strings.Contains(rel, `\`) {
			t.Errorf("Rel(%q) = %q has backslashes", p, rel)
		}
		abs, err := pathsafe.Resolve(fx.root, rel)
		if err != nil {
			t.Fatalf("Resolve(Rel(%q) = %q): %v", p, rel, err)
		}
		first, _ := pathsafe.Resolve(fx.root, p)
		if abs != first {
			t.Errorf("Resolve(Rel(%q)) = %q, Resolve(%q) = %q", p, abs, p, first)
		}
	}
}

func TestErrorsDoNotEchoInput(t *testing.T) {
	root := t.TempDir()
	in := "../<script>alert(1)</script>"
	_, err := pathsafe.Resolve(root, in)
	if strings.Contains(err.Error(), "script") {
		t.Errorf("error echoes user input: %v", err)
	}
}
