//go:build linux

package pgembed

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A gathering that crashes or is SIGKILLed must not leave its server
// running: the next start would refuse the data directory.
func TestServerStopsWhenParentDies(t *testing.T) {
	t.Parallel()
	dataDir := testDataDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGEMBED_HELPER_DATADIR="+dataDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid, port int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "READY %d %d", &pid, &port); n == 2 {
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper did not start a server")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for !processGone(pid) || portOpen(port) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("orphaned postmaster %d still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMain doubles as the child of TestServerStopsWhenParentDies: started with
// PGEMBED_HELPER_DATADIR, the test binary starts a server, reports it and waits to be killed.
func TestMain(m *testing.M) {
	if dataDir := os.Getenv("PGEMBED_HELPER_DATADIR"); dataDir != "" {
		s, err := Start(context.Background(), Config{DataDir: dataDir})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("READY %d %d\n", s.cmd.Process.Pid, s.Port())
		select {} // until killed
	}
	os.Exit(m.Run())
}
