//go:build race

package record

// raceEnabled shortens the heaviest tests under the race detector, which
// makes parquet-go some 20 times slower.
const raceEnabled = true
