package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Config says which identities runs take. The zero Config takes the defaults.
type Config struct {
	// FirstUID and UIDs are the range of user ids runs lease, one per run in progress: at
	// most UIDs runs proceed at once, the others wait. No account should use them.
	// Default 2000000001 and 64.
	FirstUID uint32
	UIDs     int
	// GID is the group every run has, and no supplementary groups. Granting it access to a
	// directory is how a Request.Dir is opened to runs. Default 2000000000.
	GID uint32
}

// Defaults of Config. The range is far above the ids distributions hand out to accounts,
// system services (below 65536) and rootless containers (subordinate ids from 100000).
const (
	DefaultFirstUID = 2_000_000_001
	DefaultUIDs     = 64
	DefaultGID      = 2_000_000_000
)

// Sandbox runs code with one Config.
type Sandbox struct {
	cfg Config
}

// New returns a Sandbox for cfg.
func New(cfg Config) *Sandbox {
	if cfg.FirstUID == 0 {
		cfg.FirstUID = DefaultFirstUID
	}
	if cfg.UIDs <= 0 {
		cfg.UIDs = DefaultUIDs
	}
	if cfg.GID == 0 {
		cfg.GID = DefaultGID
	}
	return &Sandbox{cfg: cfg}
}

var std = New(Config{})

// Run runs r with the default Config; see Sandbox.Run.
func Run(ctx context.Context, r Request) (Result, error) {
	return std.Run(ctx, r)
}

// leaseDir holds one lock file per user id. The leases are flock(2) locks rather than a map
// in memory so that two processes on one machine (two instances, or the tests of two
// packages) never share a user id, and a crashed process gives its ids back.
func leaseDir() (string, error) {
	base := os.TempDir()
	if info, err := os.Stat("/run"); err == nil && info.IsDir() {
		base = "/run"
	}
	dir := filepath.Join(base, "gathering-sandbox")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// Anyone who could write here could hold every lease, or swap a lock file for a link.
	info, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || !ok || int(st.Uid) != os.Geteuid() || info.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("sandbox: %s must be a directory only this user can write", dir)
	}
	return dir, nil
}

// leaseUID takes a free user id of the range, waiting for one while ctx allows; release
// gives it back.
func (s *Sandbox) leaseUID(ctx context.Context) (uid uint32, release func(), err error) {
	dir, err := leaseDir()
	if err != nil {
		return 0, nil, err
	}
	for {
		for i := 0; i < s.cfg.UIDs; i++ {
			uid := s.cfg.FirstUID + uint32(i)
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", uid)),
				os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
			if err != nil {
				return 0, nil, err
			}
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				return uid, func() { _ = f.Close() }, nil
			}
			_ = f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return 0, nil, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
