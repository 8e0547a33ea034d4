// Package market is the emulator's instrument universe: a fixed set of
// equities, FX rates, indices, futures and bonds whose Market Price images,
// order books (Market By Price / Market By Order) and chains (Symbol List)
// are generated deterministically from a seed.
//
// Create one Universe per emulator and share it between all connections and
// endpoints: an Instrument is the single owner of its state, so two
// endpoints serve identical fields under identical sequence numbers.
package market

import (
	"slices"
	"time"
)

// Config configures a Universe.
type Config struct {
	// Seed selects the generated data; equal seeds give equal sequences of
	// images and ticks (timestamps aside). Default 0.
	Seed int64
	// Clock is the time source of all timestamps, read once per tick and
	// converted to UTC. Default time.Now. Inject one for deterministic tests.
	Clock func() time.Time
}

// Universe is the set of instruments. It is immutable after New and safe
// for concurrent use.
type Universe struct {
	items  map[string]*Instrument
	names  []string
	chains map[string][]string
}

// NewUniverse returns the built-in universe generated from seed, timed by
// the system clock.
func NewUniverse(seed int64) *Universe { return New(Config{Seed: seed}) }

// New returns the built-in universe configured by cfg.
func New(cfg Config) *Universe {
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	u := &Universe{items: make(map[string]*Instrument, 2*len(specs)), chains: chains}
	for _, sp := range specs {
		u.items[sp.name] = newInstrument(sp.name, sp, cfg.Seed, clock)
		u.items["/"+sp.name] = newInstrument("/"+sp.name, sp, cfg.Seed, clock)
		u.names = append(u.names, sp.name)
	}
	slices.Sort(u.names)
	return u
}

// Lookup returns the instrument called name. A leading "/" names the
// delayed variant of an item (Instrument.Delayed is true): a separate
// instrument that generates the same data. Unknown names return false.
func (u *Universe) Lookup(name string) (*Instrument, bool) {
	in, ok := u.items[name]
	return in, ok
}

// Names returns the real-time item names, sorted. Each also exists with a
// "/" prefix (delayed).
func (u *Universe) Names() []string { return slices.Clone(u.names) }

// Chain returns the constituents of a Symbol List item such as "0#.DJI".
func (u *Universe) Chain(name string) ([]string, bool) {
	c, ok := u.chains[name]
	return slices.Clone(c), ok
}

// ChainNames returns the Symbol List item names, sorted.
func (u *Universe) ChainNames() []string {
	names := make([]string, 0, len(u.chains))
	for n := range u.chains {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
