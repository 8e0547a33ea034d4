// Package replay serves a recording over the WebSocket API: its Source
// plugs a record.Player into a server.Hub, so that any tr_json2 client
// (LSEG's examples, the ertkit SDK, ert stream) logs in and gets the
// recorded items, their Refreshes, and their Updates with the recorded
// field values and SeqNumbers, at the recorded pace (or as the Player
// is set up: speed N, as fast as possible, from an offset, looping).
//
// Make a Source with NewSource, give it to server.NewHub as
// Config.Source, serve the Hub with server.NewServer, and call Run: the
// recording starts playing when the first item is opened (or at once
// with Options.StartAtOnce). Market Price only, as server.Source is.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/ertkit/ertkit/record"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

// Options configure a Source. The zero value waits for the first client
// and logs nothing.
type Options struct {
	// Items are the names the recording holds (from its headers); other
	// names are answered NotFound. Default: every name is accepted, and
	// waits for its first recorded Refresh.
	Items []string
	// StartAtOnce plays from the moment Run is called instead of from the
	// first opened item. Default false.
	StartAtOnce bool
	// Logger receives gaps in the recording and the end of the replay.
	// Default: discard.
	Logger *slog.Logger
}

// Source is a server.Source that publishes a recording. Its methods are
// safe for concurrent use.
type Source struct {
	p     *record.Player
	opts  Options
	known map[string]bool

	mu      sync.Mutex
	items   map[string]*item
	started chan struct{}
	once    sync.Once
}

// item is one recorded item: its image so far (for clients that open it
// late) and its open handle at the Hub, if any.
type item struct {
	open   *server.Item
	ready  bool // a Refresh was played
	fields []trjson.Field
	index  map[string]int
	seq    int64
	hasSeq bool
	state  trjson.State
	perm   string
}

// NewSource returns a Source that plays p.
func NewSource(p *record.Player, opts Options) *Source {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{p: p, opts: opts, items: map[string]*item{}, started: make(chan struct{})}
	if len(opts.Items) > 0 {
		s.known = map[string]bool{}
		for _, n := range opts.Items {
			s.known[n] = true
		}
	}
	if opts.StartAtOnce {
		s.start()
	}
	return s
}

func (s *Source) start() { s.once.Do(func() { close(s.started) }) }

// Open implements server.Source: a recorded item gets its image at once
// if its Refresh has been played, else when it is.
func (s *Source) Open(it *server.Item) error {
	if it.Domain() != trjson.DomainMarketPrice {
		return fmt.Errorf("replay: %s: only Market Price is replayed: %w", it.Name(), server.ErrNotFound)
	}
	if s.known != nil && !s.known[it.Name()] {
		return fmt.Errorf("replay: %s is not in the recording: %w", it.Name(), server.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.itemLocked(it.Name())
	st.open = it
	if st.ready {
		it.Refresh(server.Image{State: st.state, Fields: st.fields, SeqNumber: st.seq, HasSeq: st.hasSeq, PermData: st.perm, ClearCache: true})
	}
	s.start()
	return nil
}

// Close implements server.Source.
func (s *Source) Close(it *server.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.items[it.Name()]; st != nil && st.open == it {
		st.open = nil
	}
}

func (s *Source) itemLocked(name string) *item {
	st := s.items[name]
	if st == nil {
		st = &item{index: map[string]int{}}
		s.items[name] = st
	}
	return st
}

// Run plays the recording once the first item is opened (see
// Options.StartAtOnce) and returns at its end (nil), when ctx ends (its
// error), or at damage in the file (a *record.DamageError, after
// everything before it was played).
func (s *Source) Run(ctx context.Context) error {
	select {
	case <-s.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	var dec trjson.Decoder
	for {
		r, err := s.p.Next(ctx)
		if errors.Is(err, io.EOF) {
			s.opts.Logger.Info("replay finished: items keep their last image")
			return nil
		}
		if err != nil {
			return err
		}
		switch r.Kind {
		case record.KindGap:
			s.opts.Logger.Warn("the recording has a gap here: its writer dropped messages", "dropped", r.Dropped, "offset", s.p.Offset(r))
			continue
		case record.KindState: // the recording SDK's own view, not the server's data
			continue
		}
		ms, err := dec.Decode(r.Msg)
		if err != nil || len(ms) != 1 {
			return fmt.Errorf("replay: message of %s at %v does not decode: %w", r.Name, s.p.Offset(r), err)
		}
		s.publish(r.Name, &ms[0])
	}
}

func (s *Source) publish(name string, m *trjson.Msg) {
	if m.Domain != trjson.DomainMarketPrice {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.itemLocked(name)
	switch m.Type {
	case trjson.TypeRefresh:
		st.apply(m.Fields, m.ClearsCache() || !st.ready)
		st.ready = true
		st.seq, st.hasSeq = m.SeqNumber, m.HasSeqNumber
		if m.HasState {
			st.state = m.State
		}
		if m.PermData != "" {
			st.perm = m.PermData
		}
		if st.open != nil {
			st.open.Refresh(server.Image{State: st.state, Fields: m.Fields, SeqNumber: m.SeqNumber, HasSeq: m.HasSeqNumber,
				PermData: m.PermData, Qos: m.Qos, ClearCache: m.ClearsCache()})
		}
	case trjson.TypeUpdate:
		if !st.ready {
			return // no image yet: nothing a client could apply it to
		}
		st.apply(m.Fields, false)
		if m.HasSeqNumber {
			st.seq, st.hasSeq = m.SeqNumber, true
		}
		if st.open != nil {
			st.open.Update(server.Update{UpdateType: m.UpdateType, Fields: m.Fields, SeqNumber: m.SeqNumber, HasSeq: m.HasSeqNumber,
				DoNotRipple: m.DoNotRipple})
		}
	case trjson.TypeStatus:
		if m.HasState {
			st.state = m.State
			if st.open != nil {
				st.open.Status(m.State)
			}
		}
	}
}

// apply merges fields into the item's image (after clearing it).
func (st *item) apply(fields []trjson.Field, clear bool) {
	if clear {
		st.fields = st.fields[:0]
		clear := st.index
		for k := range clear {
			delete(clear, k)
		}
	}
	for i := range fields {
		f := fields[i].Clone()
		if j, ok := st.index[f.Name]; ok {
			st.fields[j] = f
			continue
		}
		st.index[f.Name] = len(st.fields)
		st.fields = append(st.fields, f)
	}
}
