package natsbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// SubscriberConfig configures a subscription. Conn and Handler are required.
type SubscriberConfig struct {
	// Conn is the NATS connection. The subscription does not close it.
	Conn *nats.Conn
	// Streams names the bus (the Prefix must be the publisher's; the
	// sizes are not used).
	Streams Streams
	// Handler receives each item's image (a complete Refresh), then its
	// messages in order, one call at a time. The Msg and what it points to
	// are valid only during the call (Clone to keep); Msg.Item is nil.
	Handler func(*consumer.Msg)
	// OnEvent receives gaps, duplicates, malformed messages, missing or
	// stale images and consumer errors. Default: ignored (they are still
	// counted in Stats).
	OnEvent func(Event)
	// Heartbeat is the idle heartbeat of the consumer's pull requests: a
	// consumer lost with its server is noticed after about two missed
	// heartbeats and recreated from the last message delivered. Default 5 s.
	Heartbeat time.Duration
	// ReorderWindow is how long an Update that skips SeqNumbers is held
	// while the missing ones may still arrive: a publisher's retry after
	// a server loss can store an item's messages out of order (see
	// docs/NATS.md). Held messages are delivered in SeqNumber order as soon
	// as the hole fills; when the window ends first, the gap is reported
	// and they are delivered. Default 5 s; negative: gaps reported at once.
	ReorderWindow time.Duration
	// MaxHeld bounds the messages held per item; beyond it the gap is
	// reported at once. Default 10000.
	MaxHeld int
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventGap: an Update's SeqNumber is not the last one plus one
	// (Expected, Got). The message is delivered.
	EventGap EventKind = iota + 1
	// EventDuplicate: an Update repeats the last SeqNumber; it is skipped.
	EventDuplicate
	// EventMalformed: a payload or header on the item's subject could not
	// be decoded (Err); the message is skipped.
	EventMalformed
	// EventNoImage: the last-value store has no image of the item; its
	// messages are delivered from the oldest one kept.
	EventNoImage
	// EventStaleImage: the image misses Got messages the publisher lost
	// (dropped or never acknowledged) since the item's last Refresh.
	EventStaleImage
	// EventError: the JetStream consumer reported an error (Err); it
	// recovers by itself (ordered consumer).
	EventError
)

func (k EventKind) String() string {
	switch k {
	case EventGap:
		return "gap"
	case EventDuplicate:
		return "duplicate"
	case EventMalformed:
		return "malformed"
	case EventNoImage:
		return "no-image"
	case EventStaleImage:
		return "stale-image"
	case EventError:
		return "error"
	}
	return "unknown"
}

// Event is something a subscriber must not miss silently.
type Event struct {
	Kind      EventKind
	Key       Key
	Subject   string
	StreamSeq uint64 // updates-stream sequence of the message, when there is one
	Expected  int64  // EventGap: the SeqNumber that was due
	Got       int64  // EventGap, EventDuplicate: the SeqNumber received; EventStaleImage: messages missing
	Err       error
}

func (e Event) String() string {
	s := e.Kind.String()
	if e.Key.Name != "" {
		s += " " + e.Key.String()
	} else if e.Subject != "" {
		s += " " + e.Subject
	}
	switch e.Kind {
	case EventGap:
		s += fmt.Sprintf(": SeqNumber %d, expected %d", e.Got, e.Expected)
	case EventDuplicate:
		s += fmt.Sprintf(": SeqNumber %d again", e.Got)
	case EventStaleImage:
		s += fmt.Sprintf(": %d messages missing since the last Refresh", e.Got)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// SubscriberStats counts what a subscription delivered and reported.
type SubscriberStats struct {
	Images     int64 // images delivered
	Messages   int64 // updates-stream messages delivered
	InImage    int64 // skipped: already in the image
	Duplicates int64
	Gaps       int64
	Malformed  int64
	Reordered  int64 // delivered after being held for a hole that then filled
}

// Subscription delivers the items of one Subscribe call.
type Subscription struct {
	cfg   SubscriberConfig
	items map[string]*subItem // by updates subject
	cc    jetstream.ConsumeContext
	dec   trjson.Decoder
	msg   consumer.Msg

	images, messages, inImage, duplicates, gaps, malformed, reordered atomic.Int64

	// mu serialises delivery between the consumer's callback and the
	// reorder timer; it guards dec, msg, the items' joins and held
	// messages, timer and closed.
	mu     sync.Mutex
	timer  *time.Timer
	closed bool

	closeOnce sync.Once
}

type subItem struct {
	key  Key
	join join
	// held are Updates received ahead of a hole in SeqNumbers, sorted by
	// SeqNumber, since heldSince.
	held      []heldMsg
	heldSince time.Time
}

// Subscribe delivers, for each item, its image from the last-value stream
// and then every later message of the updates stream, joined as described
// on join (docs/NATS.md): no message lost, none delivered twice, gaps in
// SeqNumber reported. Images are delivered before Subscribe returns.
func Subscribe(ctx context.Context, cfg SubscriberConfig, keys []Key) (*Subscription, error) {
	if cfg.Conn == nil || cfg.Handler == nil {
		return nil, errors.New("natsbus: SubscriberConfig needs Conn and Handler")
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no items", ErrName)
	}
	if err := cfg.Streams.defaults(); err != nil {
		return nil, err
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.ReorderWindow == 0 {
		cfg.ReorderWindow = 5 * time.Second
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 10000
	}
	s := &Subscription{cfg: cfg, items: map[string]*subItem{}}
	type req struct {
		it   *subItem
		last string
	}
	reqs := make([]req, 0, len(keys))
	var filters []string
	for _, k := range keys {
		us, err := cfg.Streams.UpdateSubject(k)
		if err != nil {
			return nil, fmt.Errorf("natsbus: subscribe %q: %w", k.Name, err)
		}
		if _, dup := s.items[us]; dup {
			continue
		}
		ls, _ := cfg.Streams.LastSubject(k)
		it := &subItem{key: k}
		s.items[us] = it
		reqs = append(reqs, req{it, ls})
		filters = append(filters, us)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	updates, err := js.Stream(ctx, cfg.Streams.UpdatesStream())
	if err != nil {
		return nil, streamErr(cfg.Streams.UpdatesStream(), err)
	}
	last, err := js.Stream(ctx, cfg.Streams.LastStream())
	if err != nil {
		return nil, streamErr(cfg.Streams.LastStream(), err)
	}

	// Images first; the consumer starts after the oldest image.
	start := uint64(0)
	first := true
	for _, r := range reqs {
		q := s.image(ctx, last, r.it, r.last)
		if first || q < start {
			start, first = q, false
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	cons, err := updates.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: consumer on %s: %w", cfg.Streams.UpdatesStream(), err)
	}
	s.cc, err = cons.Consume(s.onMsg, jetstream.PullHeartbeat(cfg.Heartbeat), jetstream.PullExpiry(6*cfg.Heartbeat), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.event(Event{Kind: EventError, Err: err})
	}))
	if err != nil {
		return nil, fmt.Errorf("natsbus: consume %s: %w", cfg.Streams.UpdatesStream(), err)
	}
	return s, nil
}

func streamErr(name string, err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %s (no publisher has created it with this prefix): %w", ErrNoStream, name, err)
	}
	return fmt.Errorf("natsbus: stream %s: %w", name, err)
}

// image reads and delivers one item's image and sets its join; it returns
// the image's updates-stream sequence (0 without an image).
func (s *Subscription) image(ctx context.Context, last jetstream.Stream, it *subItem, subject string) uint64 {
	rm, err := last.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			s.event(Event{Kind: EventNoImage, Key: it.key, Subject: subject})
		} else {
			s.event(Event{Kind: EventNoImage, Key: it.key, Subject: subject, Err: err})
		}
		return 0
	}
	q, err := strconv.ParseUint(rm.Header.Get(HeaderUpdatesSeq), 10, 64)
	if err != nil {
		s.malformed.Add(1)
		s.event(Event{Kind: EventMalformed, Key: it.key, Subject: subject, Err: fmt.Errorf("image header %s: %w", HeaderUpdatesSeq, err)})
		return 0
	}
	m, err := s.decode(rm.Data, it.key, rm.Header)
	if err != nil || m.Type != trjson.TypeRefresh {
		if err == nil {
			err = fmt.Errorf("image is a %s, not a Refresh", m.Type)
		}
		s.malformed.Add(1)
		s.event(Event{Kind: EventMalformed, Key: it.key, Subject: subject, Err: err})
		return 0
	}
	it.join = join{updatesSeq: q, seq: m.SeqNumber, hasSeq: m.HasSeq}
	if n, _ := strconv.Atoi(rm.Header.Get(HeaderStale)); n > 0 {
		s.event(Event{Kind: EventStaleImage, Key: it.key, Subject: subject, Got: int64(n)})
	}
	s.images.Add(1)
	s.cfg.Handler(m)
	return q
}

// heldMsg is an Update kept while a hole in SeqNumbers may still fill.
type heldMsg struct {
	seq       int64
	streamSeq uint64
	data      []byte
	hdr       nats.Header
}

func (s *Subscription) onMsg(jm jetstream.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	subj := jm.Subject()
	it := s.items[subj]
	meta, err := jm.Metadata()
	if it == nil || err != nil {
		if err == nil {
			err = fmt.Errorf("subject %q was not requested", subj)
		}
		s.malformed.Add(1)
		s.event(Event{Kind: EventMalformed, Subject: subj, Err: err})
		return
	}
	s.process(it, subj, meta.Sequence.Stream, jm.Data(), jm.Headers(), true)
}

// process decodes and delivers one message of an item (under s.mu);
// mayHold lets an Update ahead of a hole wait in the item's held list.
func (s *Subscription) process(it *subItem, subj string, streamSeq uint64, data []byte, hdr nats.Header, mayHold bool) {
	m, err := s.decode(data, it.key, hdr)
	if err != nil {
		s.malformed.Add(1)
		s.event(Event{Kind: EventMalformed, Key: it.key, Subject: subj, StreamSeq: streamSeq, Err: err})
		return
	}
	j := &it.join
	if mayHold && s.cfg.ReorderWindow > 0 && m.Type == trjson.TypeUpdate && m.HasSeq && j.hasSeq &&
		streamSeq > j.updatesSeq && m.SeqNumber > j.seq+1 && len(it.held) < s.cfg.MaxHeld {
		s.hold(it, heldMsg{seq: m.SeqNumber, streamSeq: streamSeq, data: append([]byte(nil), data...), hdr: hdr})
		return
	}
	if len(it.held) > 0 && m.Type != trjson.TypeUpdate && m.HasSeq {
		// A Refresh (or a numbered Status) restarts the numbering: what
		// is held comes first, with its gap reported.
		s.release(it, subj)
		m, err = s.decode(data, it.key, hdr)
		if err != nil {
			return
		}
	}
	v, gap, expected := j.admit(streamSeq, m.Type, m.HasSeq, m.SeqNumber)
	switch v {
	case inImage:
		s.inImage.Add(1)
		return
	case duplicate:
		s.duplicates.Add(1)
		s.event(Event{Kind: EventDuplicate, Key: it.key, Subject: subj, StreamSeq: streamSeq, Got: m.SeqNumber})
		return
	}
	if gap {
		s.gaps.Add(1)
		s.event(Event{Kind: EventGap, Key: it.key, Subject: subj, StreamSeq: streamSeq, Expected: expected, Got: m.SeqNumber})
	}
	s.messages.Add(1)
	s.cfg.Handler(m)
	// The hole may have closed.
	for len(it.held) > 0 && it.held[0].seq <= j.seq+1 {
		h := it.held[0]
		it.held = it.held[1:]
		s.reordered.Add(1)
		s.process(it, subj, h.streamSeq, h.data, h.hdr, false)
	}
	if len(it.held) == 0 {
		it.held = nil
	}
}

// hold keeps m until the hole before it fills or the window ends.
func (s *Subscription) hold(it *subItem, h heldMsg) {
	i := sort.Search(len(it.held), func(i int) bool { return it.held[i].seq >= h.seq })
	if i < len(it.held) && it.held[i].seq == h.seq {
		s.duplicates.Add(1)
		s.event(Event{Kind: EventDuplicate, Key: it.key, StreamSeq: h.streamSeq, Got: h.seq})
		return
	}
	it.held = slices.Insert(it.held, i, h)
	if len(it.held) == 1 {
		it.heldSince = time.Now()
		if s.timer == nil {
			s.timer = time.AfterFunc(s.cfg.ReorderWindow, s.expire)
		}
	}
}

// release delivers what an item holds, in SeqNumber order, the first one
// after the hole reported as a gap by the join.
func (s *Subscription) release(it *subItem, subj string) {
	held := it.held
	it.held = nil
	for _, h := range held {
		s.process(it, subj, h.streamSeq, h.data, h.hdr, false)
	}
}

// expire releases the items whose window has ended and re-arms the timer
// for the others.
func (s *Subscription) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.closed {
		return
	}
	now := time.Now()
	next := time.Duration(0)
	for subj, it := range s.items {
		if len(it.held) == 0 {
			continue
		}
		if left := s.cfg.ReorderWindow - now.Sub(it.heldSince); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		s.release(it, subj)
	}
	if next > 0 {
		s.timer = time.AfterFunc(next, s.expire)
	}
}

// decode turns one stored tr_json2 message into the Msg handed to the
// Handler (reused: valid during the call).
func (s *Subscription) decode(data []byte, k Key, h nats.Header) (*consumer.Msg, error) {
	msgs, err := s.dec.Decode(data)
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("%d messages in one payload, want 1", len(msgs))
	}
	tm := &msgs[0]
	if tm.Err != nil {
		return nil, tm.Err
	}
	switch tm.Type {
	case trjson.TypeRefresh, trjson.TypeUpdate, trjson.TypeStatus:
	default:
		return nil, fmt.Errorf("message type %s on an item subject", tm.Type)
	}
	if tm.HasKey && tm.Key.Name != "" && tm.Key.Name != k.Name {
		return nil, fmt.Errorf("payload is about %q, subject about %q", tm.Key.Name, k.Name)
	}
	m := &s.msg
	*m = consumer.Msg{Type: tm.Type, Domain: k.Domain, Name: k.Name, Service: k.Service,
		State: tm.State, HasState: tm.HasState, UpdateType: tm.UpdateType,
		SeqNumber: tm.SeqNumber, HasSeq: tm.HasSeqNumber, Complete: tm.Complete(), PartNumber: tm.PartNumber,
		Solicited: tm.Solicited(), Fields: tm.Fields, Map: tm.Map, Elements: tm.Elements, Raw: tm.Raw}
	if v := h.Get(HeaderReceived); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			m.Received = t
		}
	}
	return m, nil
}

func (s *Subscription) event(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// Stats returns the counters.
func (s *Subscription) Stats() SubscriberStats {
	return SubscriberStats{Images: s.images.Load(), Messages: s.messages.Load(), InImage: s.inImage.Load(),
		Duplicates: s.duplicates.Load(), Gaps: s.gaps.Load(), Malformed: s.malformed.Load(), Reordered: s.reordered.Load()}
}

// Close stops the subscription and waits until its Handler has returned;
// do not call it from the Handler or OnEvent.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		s.cc.Stop()
		<-s.cc.Closed()
		s.mu.Lock()
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
	})
	return nil
}
