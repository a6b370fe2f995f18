package pathsafe_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pathsafe"
)

func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		".", "a/b.txt", "./a", "a/./b", "dir/", "a..b", "...", "résumé.md", "my file.txt",
		"..", "../etc/passwd", "foo/../bar", `..\..\etc`, `\\server\share`, "C:\\Windows", "~/x",
		"%2e%2e/etc", "%2E%2E/etc", ".%2e/etc", "%252e%252e/etc", "%25252e%25252e%25252fetc",
		"%%32%65%%32%65/etc", "%252%65%252%65/etc", "..%2fetc", "%5c%5cserver", "file.txt%00.png",
		"a\x00b", "a%0Ab", "\uff0e\uff0e/etc", "a\u2215b", "%C0%AE%C0%AE/etc", "100%.txt",
		"inlink/file.txt", "etclink/passwd", "sibling/secret.txt", "chain1/x", "dangling-out",
		"dangling-in", "viaetc", "loop1/x", "sub/up/file.txt", "sub/upup/outside", "outin/x",
		"throughout/back/file.txt", "selflink/selflink/sub/file.txt",
	} {
		f.Add(s)
	}
	fx := newFixture(f, f.TempDir())

	f.Fuzz(func(t *testing.T, p string) {
		got, err := pathsafe.Resolve(fx.root, p)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("Resolve(%q) returned %T, want *domain.Error", p, err)
			}
			if de.Code != domain.CodeForbidden && de.Code != domain.CodeInvalid {
				t.Fatalf("Resolve(%q) code = %s, want forbidden or invalid", p, de.Code)
			}
			if len(de.Fields) != 1 || de.Fields[0].Field != "path" {
				t.Fatalf("Resolve(%q) fields = %+v", p, de.Fields)
			}
			return
		}

		if got != fx.root && !strings.HasPrefix(got, fx.root+"/") {
			t.Fatalf("Resolve(%q) = %q, outside root %q", p, got, fx.root)
		}
		if strings.ContainsRune(got, 0) {
			t.Fatalf("Resolve(%q) = %q contains NUL", p, got)
		}
		if filepath.Clean(got) != got {
			t.Fatalf("Resolve(%q) = %q is not clean", p, got)
		}

		// The longest prefix the OS can resolve must resolve inside the real root.
		for prefix := got; ; prefix = filepath.Dir(prefix) {
			real, err := filepath.EvalSymlinks(prefix)
			if err != nil {
				if prefix == fx.root {
					t.Fatalf("root does not resolve: %v", err)
				}
				continue
			}
			if real != fx.realRoot && !strings.HasPrefix(real, fx.realRoot+"/") {
				t.Fatalf("Resolve(%q) = %q, but %q resolves to %q outside the root", p, got, prefix, real)
			}
			break
		}

		// Rel agrees with Resolve, and its output is accepted as input and means the same path.
		rel, err := pathsafe.Rel(fx.root, p)
		if err != nil {
			t.Fatalf("Resolve(%q) accepted but Rel rejected: %v", p, err)
		}
		if filepath.Join(fx.root, filepath.FromSlash(rel)) != got {
			t.Fatalf("Rel(%q) = %q does not match Resolve = %q", p, rel, got)
		}
		again, err := pathsafe.Resolve(fx.root, rel)
		if err != nil || again != got {
			t.Fatalf("Resolve(Rel(%q) = %q) = %q, %v; want %q", p, rel, again, err, got)
		}
	})
}
