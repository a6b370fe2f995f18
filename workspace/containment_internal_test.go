package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
)

// These tests play the race pathsafe cannot close: the path is checked, then a directory on it
// is swapped for a symlink leading out. os.Root must refuse at open time.

func swapFixture(t *testing.T) (w *Workspace, root, outside string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "swap"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return w, root, outside
}

func swap(t *testing.T, root string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(root, "swap")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(root, "swap")); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAfterSwapStaysInside(t *testing.T) {
	w, root, outside := swapFixture(t)
	rel, err := w.resolve("swap/new/x.txt", false)
	if err != nil {
		t.Fatal(err)
	}
	swap(t, root)
	_, _, err = w.write(rel, strings.NewReader("pwned"), 0, "")
	if domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("write through a swapped-in link: %v, want forbidden", err)
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "secret.txt" {
		t.Fatalf("outside now holds %v", entries)
	}
}

func TestReadAfterSwapStaysInside(t *testing.T) {
	w, root, _ := swapFixture(t)
	rel, err := w.resolve("swap/secret.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	swap(t, root)
	r, err := w.openRoot()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, _, err := openRegular(r, rel)
	if f != nil {
		f.Close()
	}
	if domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("read through a swapped-in link: %v, want forbidden", err)
	}
}

func TestRootEscapeErrorIsRecognised(t *testing.T) {
	if errRootEscape() == nil {
		t.Fatal("os.Root's escape error was not captured")
	}
	if err := fsError("x", &fs.PathError{Op: "open", Path: "x", Err: errRootEscape()}); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("fsError = %v", err)
	}
	if err := fsError("x", errors.New("other")); domain.ErrorCode(err) != domain.CodeInternal {
		t.Fatalf("fsError = %v", err)
	}
}

func TestIsBinary(t *testing.T) {
	head := []byte(strings.Repeat("a", sniffLen-1) + "\xe2") // first byte of a 3-byte rune
	if isBinary(head, true) {
		t.Fatal("a rune cut by the sniff limit made text binary")
	}
	if !isBinary(head, false) {
		t.Fatal("a truncated rune at the real end of a file is not text")
	}
}
