// Package record writes and reads recordings of a market-data stream: every
// message of the recorded items, with the time it was received, losslessly,
// in a seekable zstd file of JSON lines.
//
// Record with a Writer: pass Writer.Handle as consumer.Config.Handler (and
// Writer.Event as Config.OnEvent to keep item state changes too), Close it
// when done. Handle never blocks the SDK: it copies the message into a
// bounded queue of blocks that one goroutine compresses and writes; if the
// disk falls behind, messages are dropped, counted (Stats.Dropped) and marked
// in the recording by a gap record.
//
// Read with Open and Reader.Records, or play a recording back at its
// recorded pace, N times faster or as fast as possible, from any time
// offset, with a Player. ExportParquet and ExportJSONL turn a recording
// into a Parquet table or plain JSON lines.
//
// The file is a sequence of standard zstd frames (any zstd tool decompresses
// it to JSON lines) with skippable frames for the header, a small header
// before each block and a block index at the end; docs/RECORDING.md describes
// the layout byte by byte.
package record
