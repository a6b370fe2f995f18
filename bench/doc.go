// Package bench holds GatheRing's performance benchmarks. It has no code of its own: everything
// is in its _test.go files, run with
//
//	make bench
//
// which is `go test -run '^$' -bench . -benchtime 1x -count 1 -timeout 30m ./bench/` on the
// local PostgreSQL, writing its output to bench/last-run.txt. Each benchmark runs one fixed
// workload once (b.N is ignored), measures a raw PostgreSQL baseline in the same run on the same
// database, and reports p50/p99 latencies and the ratio to the baseline with b.ReportMetric and a
// readable summary block. Timings are reported, never asserted; only correctness (every command
// succeeded, every event was delivered) fails a benchmark.
//
//   - BenchmarkAppend: 8 concurrent writers, one event per transaction. Baseline: autocommit
//     single-row INSERTs into a table shaped like eventlog.events. Measured: Store.Append
//     (BEGIN, watermill-sql insert, positions, COMMIT, then the Announcer's coalesced NOTIFY)
//     and the full command path (Bus.Send of CreateAgent/UpdateAgent through a running
//     instance). BenchmarkAppendBreakdown, a diagnostic without a target, adds the steps one
//     at a time.
//   - BenchmarkProjectionLag: commands at 200/s; the time from Bus.Send returning until the
//     agents projection's offset row passes the command's event (observed every 1 ms).
//     Baseline: commit-to-receipt latency of a raw LISTEN/NOTIFY at the same rate.
//   - BenchmarkWebSocketFanout: 1000 WebSocket clients on /ws?topics=agents; per event, the time
//     from Bus.Send returning until the last client has the event's message. Baseline: the same
//     with one client.
//
// docs/benchmarks.md explains the figures and records a run.
package bench
