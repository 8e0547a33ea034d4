// Package market is the emulator's instrument universe: a fixed set of
// equities, FX rates, indices, futures and bonds whose Market Price images,
// order books (Market By Price / Market By Order), market makers (Market
// Maker, Nasdaq equities), chains (Symbol List) and yield curves (Yield
// Curve) are generated deterministically from a seed.
//
// Create one Universe per emulator and share it between all connections and
// endpoints: an Instrument is the single owner of its state, so two
// endpoints serve identical fields under identical sequence numbers.
package market

import (
	"fmt"
	"slices"
	"strings"
	"sync"
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

// Universe is the set of instruments. The built-in set is immutable after
// New; synthetic instruments are added on first lookup. It is safe for
// concurrent use.
type Universe struct {
	items  map[string]*Instrument
	names  []string
	chains map[string][]string
	curves map[string]*Curve

	seed  int64
	clock func() time.Time
	synMu sync.Mutex
	syn   map[string]*Instrument
}

// MaxSynthetic bounds the number of synthetic instruments a Universe
// creates, so that a client asking for endless names cannot exhaust memory.
const MaxSynthetic = 250_000

// NewUniverse returns the built-in universe generated from seed, timed by
// the system clock.
func NewUniverse(seed int64) *Universe { return New(Config{Seed: seed}) }

// New returns the built-in universe configured by cfg.
func New(cfg Config) *Universe {
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	u := &Universe{items: make(map[string]*Instrument, 2*len(specs)), chains: chains,
		seed: cfg.Seed, clock: clock, syn: map[string]*Instrument{}}
	u.curves = make(map[string]*Curve, len(curveSpecs))
	for i := range curveSpecs {
		c := newCurve(i, cfg.Seed, clock)
		u.curves[c.Name] = c
	}
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
// instrument that generates the same data. Besides the built-in items,
// every name SYN<n>.X (n of 1 to 6 digits) is a synthetic equity generated
// from the seed and the name on first lookup, so that load tests can use
// as many distinct items as they need (up to MaxSynthetic). Unknown names
// return false.
func (u *Universe) Lookup(name string) (*Instrument, bool) {
	if in, ok := u.items[name]; ok {
		return in, true
	}
	base := strings.TrimPrefix(name, "/")
	n, ok := syntheticNumber(base)
	if !ok {
		return nil, false
	}
	u.synMu.Lock()
	defer u.synMu.Unlock()
	if in, ok := u.syn[name]; ok {
		return in, true
	}
	if len(u.syn) >= MaxSynthetic {
		return nil, false
	}
	price := 10 + float64(uint64(seedFor(u.seed, base))%49_000)/100 // 10.00 … 499.99
	sp := eq(base, fmt.Sprintf("SYNTHETIC %d", n), "USD", "SYN", price, 100, 1, 100)
	in := newInstrument(name, sp, u.seed, u.clock)
	in.books = nil // Market Price only: books would multiply the memory of big load runs
	u.syn[name] = in
	return in, true
}

// syntheticNumber parses "SYN<digits>.X" with 1 to 6 digits.
func syntheticNumber(s string) (int, bool) {
	digits, ok := strings.CutPrefix(s, "SYN")
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ".X"); !ok || len(digits) == 0 || len(digits) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
		n = n*10 + int(digits[i]-'0')
	}
	return n, true
}

// Names returns the real-time item names, sorted. Each also exists with a
// "/" prefix (delayed).
func (u *Universe) Names() []string { return slices.Clone(u.names) }

// Chain returns the constituents of a Symbol List item such as "0#.DJI".
func (u *Universe) Chain(name string) ([]string, bool) {
	c, ok := u.chains[name]
	return slices.Clone(c), ok
}

// Curve returns the Yield Curve item called name (e.g. "BASIC").
func (u *Universe) Curve(name string) (*Curve, bool) {
	c, ok := u.curves[name]
	return c, ok
}

// CurveNames returns the Yield Curve item names, sorted.
func (u *Universe) CurveNames() []string {
	names := make([]string, 0, len(u.curves))
	for n := range u.curves {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
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
