package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// OpenTo gives the sandbox's group (gid; 0 means DefaultGID) read and write access to root, a
// folder under base that the server owns (a workspace): the run's uid is not its owner, and
// the code must use the files the server wrote there. base and the folders between it and root
// are opened for traversal; the folders above base must already let anyone through, which is
// checked (the error names no path: it may reach a model).
func OpenTo(base, root string, gid uint32) error {
	if gid == 0 {
		gid = DefaultGID
	}
	// The run must be able to walk down to its working directory: the workspaces folders are
	// ours to open to the group; the folders above them must already let anyone through.
	var between []string
	for d := filepath.Dir(root); strings.HasPrefix(d, base) && d != filepath.Dir(d); d = filepath.Dir(d) {
		between = append(between, d)
	}
	for _, d := range between {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chown(d, -1, int(gid)); err != nil {
			return err
		}
		if err := os.Chmod(d, info.Mode().Perm()|0o010); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			// Not the path: this text reaches the model.
			return errors.New("code cannot run here: the server's workspaces folder is closed to other users " +
				"(its operator must set WORKSPACES_DIR to a folder every user can traverse)")
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() | 0o060
		if d.IsDir() {
			mode |= 0o010 | fs.ModeSetgid
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return err
		}
		return os.Chmod(p, mode)
	})
}
