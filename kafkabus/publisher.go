package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by Close when the Publisher was already closed.
var ErrClosed = errors.New("kafkabus: publisher closed")

// ErrUndelivered is wrapped by Close's error when records were given up
// (Kafka unreachable until Close's context ended, or a fatal produce
// error).
var ErrUndelivered = errors.New("kafkabus: records not delivered")

// Publisher writes every item message it is handed to the tick topic and
// keeps each item's merged image in the compacted image topic. Handle
// never blocks: it copies the message into a bounded queue that one
// goroutine drains into franz-go's idempotent producer.
type Publisher struct {
	opts   Options
	client *kgo.Client
	log    logger

	q        chan *entry
	mu       sync.RWMutex // Handle (read) against Close (write): no send after close
	closed   bool
	closing  chan struct{}
	loopDone chan struct{}
	runCtx   context.Context
	cancel   context.CancelFunc

	// free holds entries for reuse: a bounded free list rather than a
	// sync.Pool, which the GC empties while thousands are in flight.
	free     chan *entry
	inflight sync.WaitGroup // records given to franz-go and not yet answered

	// Drops are noted by Handle per item so that the loop can mark the
	// item's image Suspect; only the drop path takes this lock.
	dropMu      sync.Mutex
	dropped     map[ItemKey]itemDrops
	dropPending atomic.Bool

	// Owned by the loop goroutine.
	items     map[ItemKey]*pubItem
	dirty     []*pubItem
	tickTopic string
	imgTopic  string
	lastDrop  int64
	lastWarn  time.Time

	st pubCounters
}

type pubCounters struct {
	handled, skipped, dropped, closedDrops atomic.Int64
	ticks, tickFailed, images, imageFailed atomic.Int64
	bufBytes, bufMax, items                atomic.Int64
}

// Stats counts what a Publisher did. Every message given to Handle is
// in exactly one of Skipped, Dropped, or (eventually) Ticks or
// TickFailed.
type Stats struct {
	Handled    int64 // messages given to Handle
	Skipped    int64 // not item messages (no RIC, or not Refresh/Update/Status)
	Dropped    int64 // dropped by the buffer policy (buffer full, or after Close)
	Ticks      int64 // tick records acknowledged by Kafka
	TickFailed int64 // tick records Kafka never acknowledged (see Close)
	Images     int64 // image records acknowledged
	ImageFail  int64 // image records never acknowledged
	Queued     int64 // messages in the queue now
	BufBytes   int64 // bytes taken and not yet acknowledged, now
	BufMax     int64 // high-water mark of BufBytes
	Items      int64 // items seen
}

// pubItem is the loop's state of one item.
type pubItem struct {
	key      ItemKey
	keyBytes []byte
	img      fieldImage
	state    trjson.State
	hasState bool
	stateHdr []byte // ert-state of state; replaced (never mutated) on change
	seq      int64
	hasSeq   bool
	received int64
	images   bool // field-list item: has an image
	dirty    bool
	dropped  int64 // messages dropped since the last complete Refresh
	// lastDrop is the publisher's drop total (Stats.Dropped) just after
	// the latest drop of this item: a Refresh queued before it does not
	// cover it.
	lastDrop  int64
	imageSize int  // of the last image, to size the next one's buffer
	partial   bool // within a multi-part Refresh
}

// entry carries one message from Handle to the loop and on to Kafka; it
// is reused once Kafka answers for it.
type entry struct {
	rec     kgo.Record
	hdrs    [4]kgo.RecordHeader
	buf     []byte // the raw message (the record's value)
	hbuf    []byte // header values
	fields  []trjson.Field
	arena   []byte
	key     ItemKey
	typ     trjson.MsgType
	state   trjson.State
	hasSt   bool
	seq     int64
	hasSeq  bool
	clear   bool
	complet bool
	hasFlds bool // a field list (not a Map domain)
	recv    int64
	size    int64
	// dropMark is the publisher's drop total when the entry was queued:
	// drops of its item counted above it happened after it.
	dropMark int64
	promise  func(*kgo.Record, error)
}

// itemDrops are the drops of one item noted by Handle since the loop
// last took them.
type itemDrops struct {
	n    int64
	last int64 // the drop total just after the latest one
}

// freeEntries bounds the free list: enough for the records in flight at
// 100k msgs/s with a few ms of linger, without keeping a full buffer's
// worth of memory after a burst.
const freeEntries = 16384

func (p *Publisher) getEntry() *entry {
	select {
	case e := <-p.free:
		return e
	default:
	}
	e := &entry{buf: make([]byte, 0, 512), hbuf: make([]byte, 0, 40), fields: make([]trjson.Field, 0, 8), arena: make([]byte, 0, 128)}
	e.promise = func(_ *kgo.Record, err error) { p.tickDone(e, err) }
	return e
}

func (p *Publisher) putEntry(e *entry) {
	if cap(e.buf) > 64<<10 { // do not keep a rare huge message's buffer
		e.buf = nil
	}
	select {
	case p.free <- e:
	default:
	}
}

// entryOverhead approximates an entry's memory beyond its bytes.
const entryOverhead = 512

// NewPublisher connects to the cluster (ctx bounds the first contact)
// and starts the producer goroutine. With Options.CreateTopics it creates
// missing topics first.
func NewPublisher(ctx context.Context, opts Options) (*Publisher, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	cc, _ := codec(opts.Compression)
	kopts := append(opts.kgoOpts(),
		kgo.ProducerLinger(opts.Linger),
		kgo.ProducerBatchMaxBytes(opts.BatchMaxBytes),
		kgo.ProducerBatchCompression(cc),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence needs acks=all; franz-go enables it by default
		kgo.MaxBufferedBytes(int(opts.BufferBytes)),
		kgo.MaxBufferedRecords(opts.Buffer),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // Kafka's murmur2 of the key: same partition as Java clients
	)
	kopts = append(kopts, opts.ExtraOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafkabus: reaching %v: %w", opts.Brokers, err)
	}
	if opts.CreateTopics {
		if err := ensureTopics(ctx, cl, opts.TopicPrefix, opts.Topics); err != nil {
			cl.Close()
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		opts: opts, client: cl, log: logger{opts.Logger, new(atomic.Int64)},
		q: make(chan *entry, opts.Buffer), closing: make(chan struct{}), loopDone: make(chan struct{}),
		runCtx: runCtx, cancel: cancel,
		dropped: map[ItemKey]itemDrops{}, items: map[ItemKey]*pubItem{},
		tickTopic: TickTopic(opts.TopicPrefix), imgTopic: ImageTopic(opts.TopicPrefix),
	}
	p.free = make(chan *entry, freeEntries)
	go p.loop()
	return p, nil
}

// Handle takes one message; use it as consumer.Config.Handler (or call
// it from one). It copies what it needs, so m may alias the SDK's
// buffers, and it never waits: when the buffer is full the message is
// dropped and counted. Safe for concurrent use.
func (p *Publisher) Handle(m *consumer.Msg) {
	p.st.handled.Add(1)
	if m.Name == "" || (m.Type != trjson.TypeRefresh && m.Type != trjson.TypeUpdate && m.Type != trjson.TypeStatus) {
		p.st.skipped.Add(1)
		return
	}
	size := int64(len(m.Raw) + entryOverhead)
	for i := range m.Fields {
		size += int64(len(m.Fields[i].Str)) + 64
	}
	key := ItemKey{Service: m.Service, Name: m.Name, Domain: m.Domain}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.st.closedDrops.Add(1)
		p.st.dropped.Add(1)
		return
	}
	if n := p.st.bufBytes.Add(size); n > p.opts.BufferBytes {
		p.st.bufBytes.Add(-size)
		p.drop(key, m.Item == nil)
		return
	}
	e := p.getEntry()
	e.size = size
	e.key = key
	e.typ, e.state, e.hasSt = m.Type, m.State, m.HasState
	e.seq, e.hasSeq = m.SeqNumber, m.HasSeq
	e.complet = m.Complete
	e.hasFlds = m.Fields != nil
	e.clear = m.Type == trjson.TypeRefresh && m.PartNumber == 0
	e.recv = m.Received.UnixNano()
	if m.Received.IsZero() {
		e.recv = time.Now().UnixNano()
	}
	e.buf = append(e.buf[:0], m.Raw...)
	// Copy the fields into one arena; Str slices are set once it stops
	// growing.
	e.arena = e.arena[:0]
	e.fields = append(e.fields[:0], m.Fields...)
	for i := range m.Fields {
		e.arena = append(e.arena, m.Fields[i].Str...)
	}
	off := 0
	for i := range e.fields {
		if s := m.Fields[i].Str; s != nil {
			e.fields[i].Str = e.arena[off : off+len(s) : off+len(s)]
			off += len(s)
		}
	}
	e.dropMark = p.st.dropped.Load()
	select {
	case p.q <- e:
		if n := p.st.bufBytes.Load(); n > p.st.bufMax.Load() {
			p.st.bufMax.Store(n) // a racy high-water mark is good enough
		}
	default:
		p.st.bufBytes.Add(-size)
		p.putEntry(e)
		p.drop(key, m.Item == nil)
	}
}

// drop counts a message the buffer could not take.
func (p *Publisher) drop(k ItemKey, cloneKey bool) {
	total := p.st.dropped.Add(1)
	if cloneKey { // names of SDK items are stable; others may alias buffers
		k.Service, k.Name = string([]byte(k.Service)), string([]byte(k.Name))
	}
	p.dropMu.Lock()
	d := p.dropped[k]
	d.n++
	d.last = max(d.last, total)
	p.dropped[k] = d
	p.dropMu.Unlock()
	p.dropPending.Store(true)
}

func (p *Publisher) loop() {
	defer close(p.loopDone)
	interval := p.opts.ImageInterval
	if interval < 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case e := <-p.q:
			p.process(e)
		case <-t.C:
			p.flushImages()
			p.reportDrops(false)
		case <-p.closing:
			for {
				select {
				case e := <-p.q:
					p.process(e)
					continue
				default:
				}
				break
			}
			p.takeDrops()
			p.flushImages()
			p.reportDrops(true)
			return
		}
	}
}

// takeDrops marks the items that lost messages.
func (p *Publisher) takeDrops() {
	if !p.dropPending.Load() || !p.dropPending.Swap(false) { // a load first: no write per message
		return
	}
	p.dropMu.Lock()
	d := p.dropped
	p.dropped = map[ItemKey]itemDrops{}
	p.dropMu.Unlock()
	for k, n := range d {
		it := p.item(k)
		it.dropped += n.n
		it.lastDrop = max(it.lastDrop, n.last)
		if it.images {
			p.markDirty(it)
		}
	}
}

func (p *Publisher) item(k ItemKey) *pubItem {
	it := p.items[k]
	if it == nil {
		it = &pubItem{key: k, keyBytes: AppendKey(nil, k)}
		p.items[k] = it
		p.st.items.Add(1)
	}
	return it
}

func (p *Publisher) markDirty(it *pubItem) {
	if !it.dirty {
		it.dirty = true
		p.dirty = append(p.dirty, it)
	}
}

// process merges e into its item's image and produces its tick.
func (p *Publisher) process(e *entry) {
	p.takeDrops() // drops noted before e was queued are seen before e
	it := p.item(e.key)
	if e.recv > it.received {
		it.received = e.recv
	}
	imageNow := false
	switch e.typ {
	case trjson.TypeRefresh:
		if e.hasFlds || e.key.Domain == trjson.DomainMarketPrice {
			it.images = true
		}
		if e.clear {
			it.img.reset()
		}
		it.img.merge(e.fields)
		it.partial = !e.complet // no image of half a multi-part Refresh
		if e.complet {
			// A complete Refresh is a fresh image, but only for the drops
			// before it was queued: the loop may take drops that Handle
			// noted while the Refresh waited in the queue, and those
			// Updates are missing from the image that follows.
			if it.lastDrop <= e.dropMark {
				it.dropped = 0
			}
			imageNow = true
		}
	case trjson.TypeUpdate:
		it.img.merge(e.fields)
	case trjson.TypeStatus:
		imageNow = true
	}
	if e.hasSt && (!it.hasState || e.state != it.state) {
		it.state, it.hasState = e.state, true
		it.stateHdr = appendState(nil, e.state)
		imageNow = true
	}
	if e.hasSeq {
		it.seq, it.hasSeq = e.seq, true
	}

	rec := &e.rec
	*rec = kgo.Record{Topic: p.tickTopic, Key: it.keyBytes, Timestamp: time.Unix(0, e.recv)}
	rec.Value = e.buf[:len(e.buf):len(e.buf)]
	n := 0
	e.hdrs[n] = kgo.RecordHeader{Key: HeaderType, Value: typeName(e.typ)}
	n++
	hb := strconv.AppendInt(e.hbuf[:0], e.recv, 10)
	recvEnd := len(hb)
	if e.hasSeq {
		hb = strconv.AppendInt(hb, e.seq, 10)
	}
	e.hdrs[n] = kgo.RecordHeader{Key: HeaderReceived, Value: hb[:recvEnd:recvEnd]}
	n++
	if it.hasState {
		e.hdrs[n] = kgo.RecordHeader{Key: HeaderState, Value: it.stateHdr}
		n++
	}
	if e.hasSeq {
		e.hdrs[n] = kgo.RecordHeader{Key: HeaderSeq, Value: hb[recvEnd:len(hb):len(hb)]}
		n++
	}
	rec.Headers = e.hdrs[:n:n]
	e.hbuf = hb
	p.inflight.Add(1)
	p.client.Produce(p.runCtx, rec, e.promise)

	if it.images {
		p.markDirty(it)
		if (imageNow || p.opts.ImageInterval < 0) && !it.partial {
			p.writeImage(it)
		}
	}
}

var (
	refreshType = []byte("Refresh")
	updateType  = []byte("Update")
	statusType  = []byte("Status")
)

func typeName(t trjson.MsgType) []byte {
	switch t {
	case trjson.TypeRefresh:
		return refreshType
	case trjson.TypeUpdate:
		return updateType
	}
	return statusType
}

var imageType = []byte("Image")

// tickDone runs when Kafka answered for a tick (or franz-go gave up).
func (p *Publisher) tickDone(e *entry, err error) {
	if err != nil {
		p.st.tickFailed.Add(1)
		p.log.undelivered(e.key, err)
	} else {
		p.st.ticks.Add(1)
	}
	p.st.bufBytes.Add(-e.size)
	e.rec = kgo.Record{}
	p.putEntry(e)
	p.inflight.Done()
}

// flushImages writes the image of every item changed since its last
// image.
func (p *Publisher) flushImages() {
	keep := p.dirty[:0]
	for _, it := range p.dirty {
		switch {
		case it.dirty && it.partial:
			keep = append(keep, it) // written when the Refresh completes
		case it.dirty:
			p.writeImage(it)
		}
	}
	clear(p.dirty[len(keep):])
	p.dirty = keep
}

// writeImage produces it's merged image to the compacted topic.
func (p *Publisher) writeImage(it *pubItem) {
	it.dirty = false
	st := it.state
	if it.dropped > 0 && st.Data == trjson.DataOk {
		st.Data = trjson.DataSuspect
		st.Text = fmt.Sprintf("kafkabus: %d messages dropped (buffer full) since the last Refresh", it.dropped)
	}
	m := trjson.Msg{Type: trjson.TypeRefresh, Domain: it.key.Domain,
		Key: trjson.Key{Name: it.key.Name, Service: it.key.Service}, HasKey: true,
		State: st, HasState: it.hasState || it.dropped > 0,
		SeqNumber: it.seq, HasSeqNumber: it.hasSeq,
		Fields: it.img.fields, HasFields: true}
	value := trjson.AppendMsg(make([]byte, 0, it.imageSize+64), &m)
	it.imageSize = len(value)
	hdrs := []kgo.RecordHeader{
		{Key: HeaderType, Value: imageType},
		{Key: HeaderReceived, Value: strconv.AppendInt(nil, it.received, 10)},
	}
	if m.HasState {
		hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderState, Value: appendState(nil, st)})
	}
	if it.hasSeq {
		hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderSeq, Value: strconv.AppendInt(nil, it.seq, 10)})
	}
	rec := &kgo.Record{Topic: p.imgTopic, Key: it.keyBytes, Value: value, Headers: hdrs,
		Timestamp: time.Unix(0, it.received)}
	p.inflight.Add(1)
	p.client.Produce(p.runCtx, rec, p.imageDone)
}

func (p *Publisher) imageDone(r *kgo.Record, err error) {
	defer p.inflight.Done()
	if err != nil {
		p.st.imageFailed.Add(1)
		p.log.undelivered(ItemKey{Name: string(r.Key)}, err)
		return
	}
	p.st.images.Add(1)
}

// reportDrops logs the buffer policy's drops, at most every 10 s.
func (p *Publisher) reportDrops(final bool) {
	d := p.st.dropped.Load()
	if d == p.lastDrop || (!final && time.Since(p.lastWarn) < 10*time.Second) {
		return
	}
	p.log.l.Warn("kafkabus: buffer full, messages dropped (their items' images are marked Suspect until the next Refresh)",
		"dropped_since_last_report", d-p.lastDrop, "dropped_total", d,
		"buffer_msgs", p.opts.Buffer, "buffer_bytes", p.opts.BufferBytes)
	p.lastDrop, p.lastWarn = d, time.Now()
}

// Stats returns the counters; safe to call at any time.
func (p *Publisher) Stats() Stats {
	return Stats{
		Handled: p.st.handled.Load(), Skipped: p.st.skipped.Load(), Dropped: p.st.dropped.Load(),
		Ticks: p.st.ticks.Load(), TickFailed: p.st.tickFailed.Load(),
		Images: p.st.images.Load(), ImageFail: p.st.imageFailed.Load(),
		Queued: int64(len(p.q)), BufBytes: p.st.bufBytes.Load(), BufMax: p.st.bufMax.Load(),
		Items: p.st.items.Load(),
	}
}

// Close stops taking messages (later ones are dropped and counted),
// writes what is queued and the final images, and waits until Kafka has
// acknowledged everything or ctx ends; then what is left is failed and
// counted, and the error wraps ErrUndelivered and ctx's error.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.mu.Unlock()
	close(p.closing)
	var ctxErr error
	select {
	case <-p.loopDone:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		p.cancel() // unblocks a Produce waiting for buffer space
		<-p.loopDone
	}
	if ctxErr == nil {
		ctxErr = p.client.Flush(ctx)
	}
	p.cancel()
	p.client.Close()  // fails what is still buffered (counted by the promises)
	p.inflight.Wait() // franz-go calls every promise, possibly after Close returns
	s := p.Stats()
	if ctxErr != nil {
		return fmt.Errorf("%w: %d ticks and %d images failed: %w", ErrUndelivered, s.TickFailed, s.ImageFail, ctxErr)
	}
	if s.TickFailed > 0 || s.ImageFail > 0 {
		return fmt.Errorf("%w: %d ticks and %d images failed", ErrUndelivered, s.TickFailed, s.ImageFail)
	}
	return nil
}
