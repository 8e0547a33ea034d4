// Package loadtest is the end-to-end load engine behind `ert bench` and the
// BenchmarkE2E… benchmarks: it starts an in-process emulator (load mode, or
// a fixed per-item rate), connects consumer clients over real loopback
// sockets (wss or ws), and measures updates/s, MB/s, allocations per
// update, latency percentiles from the send time the emulator embeds in
// load-mode updates, CPU seconds and peak RSS.
//
// Emulator and clients share the process (and this machine's cores), so
// CPU seconds, allocations and RSS of Run are process totals; Scale runs
// the client in a child process when given one, so that its figures are
// the client's own.
package loadtest
