package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/ratelimit"
)

// dist is a sorted sample of latencies.
type dist []time.Duration

func newDist(samples []time.Duration) dist {
	d := slices.Clone(samples)
	slices.Sort(d)
	return d
}

// pct is the nearest-rank percentile p (0 < p <= 100).
func (d dist) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func (d dist) max() time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[len(d)-1]
}

func (d dist) String() string {
	return fmt.Sprintf("p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (n=%d)", ms(d.pct(50)), ms(d.pct(99)), ms(d.max()), len(d))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}

// reportDist reports a distribution's p50 and p99 under prefix.
func reportDist(b *testing.B, prefix string, d dist) {
	b.ReportMetric(ms(d.pct(50)), prefix+"_p50_ms")
	b.ReportMetric(ms(d.pct(99)), prefix+"_p99_ms")
}

// loadAvg is the machine's 1, 5 and 15 minute load averages: other work on the machine during a
// run shows in them, and a run on a busy machine is not comparable.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:min(3, len(f))], " ")
}

// summary is the readable result block of one benchmark. The blocks are printed to stdout after
// every benchmark has run (see TestMain), in full: the testing package cuts a benchmark's own
// log after 10 lines, and printing while a benchmark runs would split its result line.
type summary struct {
	title     string
	lines     []string
	loadStart string // load average when the benchmark started
}

var (
	summariesMu sync.Mutex
	summaries   []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	summariesMu.Lock()
	for _, s := range summaries {
		fmt.Print("\n" + s)
	}
	summariesMu.Unlock()
	os.Exit(code)
}

func (s *summary) add(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

// log queues the block for printing after the run.
func (s *summary) log() {
	summariesMu.Lock()
	defer summariesMu.Unlock()
	summaries = append(summaries, fmt.Sprintf("===== %s =====\n%s\nload average at start %s, at end %s\n",
		s.title, strings.Join(s.lines, "\n"), s.loadStart, loadAvg()))
}

// met renders a target check for the summary; it is information, never a failure.
func met(ok bool) string {
	if ok {
		return "target met"
	}
	return "TARGET MISSED"
}

// startApp runs one full instance on db, listening on a free local port, with a random token
// secret and no rate limits (o.Logger, o.Secret and o.Limits are filled in). Shutdown is
// idempotent; the cleanup only catches instances a benchmark did not stop itself.
func startApp(b *testing.B, db *eventlog.DB, o app.Options) *app.App {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	o.Logger, o.Secret, o.Limits = zerolog.Nop(), auth.RandomSecret(), unlimited{}
	a, err := app.Start(context.Background(), db, ln, o)
	if err != nil {
		b.Fatalf("start app: %v", err)
	}
	b.Cleanup(func() { _ = a.Shutdown(0, 10*time.Second) })
	return a
}

// unlimited is a rate-limit store that admits everything: the benchmarks measure the event
// path, and 1000 feeds of one user would otherwise exceed the read tier at once.
type unlimited struct{}

func (unlimited) Take(_ context.Context, t ratelimit.Tier, _ string, now time.Time) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true, Limit: t.Limit, Remaining: t.Limit, Reset: now.Add(t.Window)}, nil
}

// Benchmark administrator: the live feed's collection topics are for admins.
const (
	adminEmail    = "bench@example.com"
	adminPassword = "bench-password-not-secret"
)

// login returns an access token of the benchmark administrator (see startApp's callers).
func login(a *app.App) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": adminEmail, "password": adminPassword})
	resp, err := http.Post("http://"+a.Addr()+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("login: %s: %s", resp.Status, raw)
	}
	return out.AccessToken, nil
}

const agentsGroup = "projection.agents"

// projectionOffset reads how far the agents projection has applied the log.
func projectionOffset(ctx context.Context, db *sql.DB) (eventlog.Cursor, error) {
	var c eventlog.Cursor
	err := db.QueryRowContext(ctx, `SELECT offset_acked, last_processed_transaction_id::text::bigint
		FROM eventlog.consumer_offsets WHERE consumer_group = $1`, agentsGroup).Scan(&c.Position, &c.TxID)
	if errors.Is(err, sql.ErrNoRows) {
		return eventlog.Cursor{}, nil
	}
	return c, err
}

// waitProjection waits until the agents projection has passed every event visible now.
func waitProjection(ctx context.Context, a *app.App, timeout time.Duration) error {
	head, err := a.Store.VisibleHead(ctx, a.DB.SQL)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		c, err := projectionOffset(ctx, a.DB.SQL)
		if err != nil {
			return err
		}
		if !c.Less(head) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agents projection at %+v did not reach %+v within %s", c, head, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// phase is one timed run of concurrent writers.
type phase struct {
	ops  int
	wall time.Duration
	lat  []time.Duration
}

func (p phase) merge(o phase) phase {
	return phase{ops: p.ops + o.ops, wall: p.wall + o.wall, lat: append(slices.Clone(p.lat), o.lat...)}
}

func (p phase) opsPerSec() float64 { return float64(p.ops) / p.wall.Seconds() }

// runWriters starts writers goroutines at once; each calls op(w, i) for i in [0, perWriter)
// back to back, timing every call. The wall time runs from the start to the last writer's end.
func runWriters(writers, perWriter int, op func(w, i int) error) (phase, error) {
	lat := make([][]time.Duration, writers)
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		lat[w] = make([]time.Duration, 0, perWriter)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perWriter {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					errs[w] = fmt.Errorf("writer %d op %d: %w", w, i, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	p := phase{ops: writers * perWriter, wall: time.Since(t0)}
	for _, l := range lat {
		p.lat = append(p.lat, l...)
	}
	return p, errors.Join(errs...)
}

// paced hands i = 0..n-1 to fn at one call per interval. The calls run on workers goroutines
// behind a queue, so a slow call delays neither the pace nor the calls after it.
func paced(n int, interval time.Duration, workers int, fn func(i int)) {
	jobs := make(chan int, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				fn(i)
			}
		}()
	}
	tick := time.NewTicker(interval)
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		jobs <- i
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
}

// clampNegative sets negative latencies to zero and counts them. A latency here is measured
// between time stamps taken by two goroutines, and the receiving side can legitimately see a
// commit before the committing call has returned to its caller; such a sample is 0, not less.
func clampNegative(ds []time.Duration) int {
	n := 0
	for i, d := range ds {
		if d < 0 {
			ds[i] = 0
			n++
		}
	}
	return n
}
