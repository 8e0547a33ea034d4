package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SubscriberOptions configure a Subscriber.
type SubscriberOptions struct {
	Connection
	// Items restricts the items followed: RICs ("TRI.N") or whole keys
	// ("ELEKTRON_DD|TRI.N"). Default: every item.
	Items []string
	// Lookback is how far before the oldest image the tick topic is read
	// from, to cover images written after their last tick and clocks of
	// several publishers. Default 10s.
	Lookback time.Duration
	// OnGap is called (on Run's goroutine) for each gap found. Default:
	// gaps are logged at Warn.
	OnGap func(Gap)
}

// Gap is a break in an item's SeqNumber sequence seen on the tick topic:
// messages lost before Kafka (the SDK's or the publisher's buffer
// dropped them, or the publisher was down), or a tick with no image to
// apply it to.
type Gap struct {
	ItemKey
	// Expected is the SeqNumber that should have come; Got the one that
	// came. Missing is Got-Expected.
	Expected, Got, Missing int64
	// NoImage: an Update for an item that had neither an image nor a
	// Refresh yet; it is applied to an empty image.
	NoImage bool
}

// SubscriberStats counts what a Subscriber read.
type SubscriberStats struct {
	Images     int64 // image records read from the compacted topic
	Ticks      int64 // tick records applied and delivered
	Covered    int64 // ticks skipped because the image already held them
	Duplicates int64 // ticks skipped because their SeqNumber was not new
	Gaps       int64 // gaps found
	Missing    int64 // SeqNumbers missing across all gaps
	Malformed  int64 // records that could not be read (logged, skipped)
}

// Subscriber rebuilds item images from the compacted image topic and
// then follows the tick topic, applying each tick to its image, skipping
// what the image already holds and reporting gaps by SeqNumber.
type Subscriber struct {
	opts   SubscriberOptions
	client *kgo.Client
	log    logger
	want   map[string]bool

	mu    sync.Mutex
	items map[ItemKey]*subItem

	dec trjson.Decoder
	msg consumer.Msg

	st struct {
		images, ticks, covered, dups, gaps, missing, malformed atomic.Int64
	}

	// following is closed once Run has loaded the images and created the
	// tick consumer (tests wait on it before they publish).
	following     chan struct{}
	followingOnce sync.Once
}

type subItem struct {
	img      fieldImage
	key      ItemKey
	state    trjson.State
	hasState bool
	seq      int64
	hasSeq   bool
	received int64
	// fromImage: no tick applied since the image was loaded, so ticks the
	// image covers are still to be skipped.
	fromImage bool
	hasImage  bool
}

// NewSubscriber checks the connection (ctx bounds the first contact).
func NewSubscriber(ctx context.Context, opts SubscriberOptions) (*Subscriber, error) {
	if err := opts.Connection.setDefaults(); err != nil {
		return nil, err
	}
	if opts.Lookback <= 0 {
		opts.Lookback = 10 * time.Second
	}
	cl, err := kgo.NewClient(opts.kgoOpts()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafkabus: reaching %v: %w", opts.Brokers, err)
	}
	s := &Subscriber{opts: opts, client: cl, log: logger{opts.Logger, new(atomic.Int64)}, items: map[ItemKey]*subItem{}, following: make(chan struct{})}
	if len(opts.Items) > 0 {
		s.want = map[string]bool{}
		for _, it := range opts.Items {
			s.want[it] = true
		}
	}
	return s, nil
}

// Close releases the admin connection. Run's clients close when it
// returns.
func (s *Subscriber) Close() { s.client.Close() }

func (s *Subscriber) wanted(k ItemKey, rawKey []byte) bool {
	return s.want == nil || s.want[k.Name] || s.want[string(rawKey)]
}

// Run loads the images, delivers each as a Refresh (sorted by key), then
// follows the tick topic and delivers each new tick, until ctx ends or a
// fatal client error. The *consumer.Msg is valid only during fn (as with
// consumer.Config.Handler); Msg.Item is nil and Msg.Raw is the record's
// value. Run returns ctx's error when ctx ends.
func (s *Subscriber) Run(ctx context.Context, fn func(*consumer.Msg)) error {
	oldest, err := s.loadImages(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	keys := make([]ItemKey, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	slices.SortFunc(keys, func(a, b ItemKey) int { return strings.Compare(string(AppendKey(nil, a)), string(AppendKey(nil, b))) })
	for _, k := range keys {
		s.mu.Lock()
		it := s.items[k]
		m := s.imageMsg(it)
		s.mu.Unlock()
		fn(m)
	}
	start := time.Now()
	if oldest > 0 {
		start = time.Unix(0, oldest)
	}
	start = start.Add(-s.opts.Lookback)
	cl, err := kgo.NewClient(append(s.opts.kgoOpts(),
		kgo.ConsumeTopics(TickTopic(s.opts.TopicPrefix)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(start.UnixMilli())),
	)...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer cl.Close()
	s.followingOnce.Do(func() { close(s.following) })
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fs.IsClientClosed() {
			return fmt.Errorf("kafkabus: client closed: %w", kgo.ErrClientClosed)
		}
		var fatal error
		fs.EachError(func(topic string, p int32, err error) {
			s.log.l.Warn("kafkabus: fetch error", "topic", topic, "partition", p, "err", err)
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				fatal = err
			}
		})
		if fatal != nil {
			return fatal
		}
		fs.EachRecord(func(r *kgo.Record) {
			if m := s.applyTick(r); m != nil {
				fn(m)
			}
		})
	}
}

// loadImages reads the image topic up to its end (as of now) and returns
// the oldest image's receive time (Unix ns; 0 with no image).
func (s *Subscriber) loadImages(ctx context.Context) (int64, error) {
	topic := ImageTopic(s.opts.TopicPrefix)
	ends, err := kadm.NewClient(s.client).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafkabus: end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return 0, fmt.Errorf("kafkabus: end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(remaining) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(s.opts.kgoOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))...)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		fs.EachError(func(topic string, p int32, err error) {
			s.log.l.Warn("kafkabus: fetch error", "topic", topic, "partition", p, "err", err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			s.applyImage(r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	var oldest int64
	s.mu.Lock()
	for _, it := range s.items {
		if it.hasImage && (oldest == 0 || it.received < oldest) {
			oldest = it.received
		}
	}
	s.mu.Unlock()
	return oldest, nil
}

// applyImage loads one image record (a later one replaces an earlier).
func (s *Subscriber) applyImage(r *kgo.Record) {
	k, err := ParseKey(r.Key)
	if err != nil {
		s.malformed(r, err)
		return
	}
	if !s.wanted(k, r.Key) {
		return
	}
	meta, m, err := s.decode(r)
	if err != nil {
		s.malformed(r, err)
		return
	}
	if r.Value == nil { // a tombstone removes the item
		s.mu.Lock()
		delete(s.items, k)
		s.mu.Unlock()
		return
	}
	s.st.images.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.item(k)
	it.img.reset()
	it.img.merge(m.Fields)
	it.state, it.hasState = m.State, m.HasState
	it.seq, it.hasSeq = m.SeqNumber, m.HasSeqNumber
	it.received = meta.received
	it.fromImage, it.hasImage = true, true
}

func (s *Subscriber) item(k ItemKey) *subItem {
	it := s.items[k]
	if it == nil {
		it = &subItem{key: k}
		s.items[k] = it
	}
	return it
}

// decode reads a record's headers and its one tr_json2 message.
func (s *Subscriber) decode(r *kgo.Record) (recordMeta, *trjson.Msg, error) {
	meta, err := parseHeaders(r.Headers)
	if err != nil {
		return meta, nil, err
	}
	if meta.received == 0 {
		meta.received = r.Timestamp.UnixNano()
	}
	if r.Value == nil {
		return meta, nil, nil
	}
	msgs, err := s.dec.Decode(r.Value)
	if err != nil {
		return meta, nil, fmt.Errorf("%w: value: %w", ErrRecord, err)
	}
	if len(msgs) != 1 {
		return meta, nil, fmt.Errorf("%w: value holds %d messages, want 1", ErrRecord, len(msgs))
	}
	m := &msgs[0]
	switch m.Type {
	case trjson.TypeRefresh, trjson.TypeUpdate, trjson.TypeStatus:
	default:
		return meta, nil, fmt.Errorf("%w: a %s message", ErrRecord, m.Type)
	}
	return meta, m, nil
}

func (s *Subscriber) malformed(r *kgo.Record, err error) {
	s.st.malformed.Add(1)
	s.log.l.Warn("kafkabus: malformed record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
}

// applyTick applies one tick record and returns the message to deliver,
// nil when it is skipped.
func (s *Subscriber) applyTick(r *kgo.Record) *consumer.Msg {
	k, err := ParseKey(r.Key)
	if err != nil {
		s.malformed(r, err)
		return nil
	}
	if !s.wanted(k, r.Key) {
		return nil
	}
	meta, m, err := s.decode(r)
	if err == nil && m == nil {
		err = fmt.Errorf("%w: tick without a value", ErrRecord)
	}
	if err != nil {
		s.malformed(r, err)
		return nil
	}
	s.mu.Lock()
	it := s.item(k)
	var gap *Gap
	if it.fromImage {
		// Ticks read from before the image: those it holds are skipped.
		if meta.received < it.received || meta.received == it.received && (!m.HasSeqNumber || !it.hasSeq || m.SeqNumber <= it.seq) {
			s.mu.Unlock()
			s.st.covered.Add(1)
			return nil
		}
		it.fromImage = false
	}
	switch m.Type {
	case trjson.TypeRefresh:
		if m.ClearsCache() && m.PartNumber == 0 { // later parts of a multi-part Refresh add to the first
			it.img.reset()
		}
		it.img.merge(m.Fields)
		it.hasImage = true
	case trjson.TypeUpdate:
		if m.HasSeqNumber && it.hasSeq {
			switch d := m.SeqNumber - it.seq; {
			case d <= 0 && d > -1<<20: // not new (a far jump back is the provider restarting)
				s.mu.Unlock()
				s.st.dups.Add(1)
				return nil
			case d > 1:
				gap = &Gap{ItemKey: k, Expected: it.seq + 1, Got: m.SeqNumber, Missing: d - 1}
			}
		} else if !it.hasImage {
			gap = &Gap{ItemKey: k, NoImage: true, Got: m.SeqNumber}
		}
		it.img.merge(m.Fields)
	}
	if m.HasState {
		it.state, it.hasState = m.State, true
	}
	if m.HasSeqNumber {
		it.seq, it.hasSeq = m.SeqNumber, true
	}
	it.received = meta.received
	s.mu.Unlock()
	if gap != nil {
		s.st.gaps.Add(1)
		s.st.missing.Add(gap.Missing)
		if s.opts.OnGap != nil {
			s.opts.OnGap(*gap)
		} else {
			s.log.l.Warn("kafkabus: gap", "service", k.Service, "ric", k.Name, "expected", gap.Expected, "got", gap.Got, "no_image", gap.NoImage)
		}
	}
	s.st.ticks.Add(1)
	s.msg = consumer.Msg{Type: m.Type, Domain: k.Domain, Name: k.Name, Service: k.Service,
		State: m.State, HasState: m.HasState, UpdateType: m.UpdateType,
		SeqNumber: m.SeqNumber, HasSeq: m.HasSeqNumber, Complete: m.Complete(), PartNumber: m.PartNumber,
		Solicited: m.Solicited(), Fields: m.Fields, Map: m.Map, Elements: m.Elements, Raw: trjson.Raw(r.Value),
		Received: time.Unix(0, meta.received)}
	return &s.msg
}

// imageMsg is an image as a Refresh message (caller holds s.mu).
func (s *Subscriber) imageMsg(it *subItem) *consumer.Msg {
	tm := trjson.Msg{Type: trjson.TypeRefresh, Domain: it.key.Domain,
		Key: trjson.Key{Name: it.key.Name, Service: it.key.Service}, HasKey: true,
		State: it.state, HasState: it.hasState, SeqNumber: it.seq, HasSeqNumber: it.hasSeq,
		Fields: it.img.fields, HasFields: true}
	s.msg = consumer.Msg{Type: trjson.TypeRefresh, Domain: it.key.Domain, Name: it.key.Name, Service: it.key.Service,
		State: it.state, HasState: it.hasState, SeqNumber: it.seq, HasSeq: it.hasSeq, Complete: true,
		Fields: it.img.fields, Raw: trjson.AppendMsg(nil, &tm), Received: time.Unix(0, it.received)}
	return &s.msg
}

// Image returns the current image of an item (a copy).
func (s *Subscriber) Image(k ItemKey) (Image, bool) {
	if k.Domain == trjson.DomainUnknown {
		k.Domain = trjson.DomainMarketPrice
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[k]
	if !ok {
		return Image{}, false
	}
	return Image{ItemKey: k, State: it.state, Seq: it.seq, HasSeq: it.hasSeq,
		Fields: it.img.snapshot(), Received: it.received}, true
}

// Images returns every item's image.
func (s *Subscriber) Images() []Image {
	s.mu.Lock()
	keys := make([]ItemKey, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	out := make([]Image, 0, len(keys))
	for _, k := range keys {
		if im, ok := s.Image(k); ok {
			out = append(out, im)
		}
	}
	return out
}

// Stats returns the counters; safe to call at any time.
func (s *Subscriber) Stats() SubscriberStats {
	return SubscriberStats{Images: s.st.images.Load(), Ticks: s.st.ticks.Load(), Covered: s.st.covered.Load(),
		Duplicates: s.st.dups.Load(), Gaps: s.st.gaps.Load(), Missing: s.st.missing.Load(), Malformed: s.st.malformed.Load()}
}
