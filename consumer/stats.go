package consumer

import "sync/atomic"

// Stats are counters since Dial.
type Stats struct {
	Messages       uint64 // messages received on all connections
	Refreshes      uint64
	Updates        uint64
	Statuses       uint64
	Delivered      uint64 // messages handed to the application
	Reconnects     uint64 // successful logins after a loss
	Drops          uint64 // messages dropped by DropOldest
	Conflated      uint64 // updates merged by ConflatePerItem
	DupsSuppressed uint64 // hot-standby duplicates not delivered
	Errors         uint64 // Error messages, malformed frames
	EventsDropped  uint64
	LoginReissues  uint64
	// RecoveryBatches counts the paced re-request batches sent after
	// (re)connects; RecoveryWaits those sent because the previous batch
	// was not fully answered within Config.RecoveryWait.
	RecoveryBatches uint64
	RecoveryWaits   uint64
	Conns           []ConnStats
}

// ConnStats describes one connection slot.
type ConnStats struct {
	Index    int
	Endpoint string
	State    ConnState
	Active   bool // carries posts and snapshots
	Items    int  // open streams
	// Compressed tells that permessage-deflate was negotiated on the
	// current connection (Config.Compression).
	Compressed bool
}

// ConnState is the state of a connection slot.
type ConnState int32

// Connection states.
const (
	ConnDown ConnState = iota
	ConnConnecting
	ConnLoggedIn
	ConnClosed
)

func (s ConnState) String() string {
	return [...]string{"down", "connecting", "logged-in", "closed"}[s]
}

type counters struct {
	messages, refreshes, updates, statuses, delivered, reconnects, drops, conflated,
	dups, errors, eventsDropped, reissues, recoveryBatches, recoveryWaits atomic.Uint64
}
