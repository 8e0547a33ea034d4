package natsbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// PublisherConfig configures a Publisher. Only Conn is required.
type PublisherConfig struct {
	// Conn is the NATS connection. The Publisher does not close it.
	Conn *nats.Conn
	// Streams names and sizes the streams; the Publisher creates or
	// updates them.
	Streams Streams
	// Service names the items of messages that carry none. Default
	// "ELEKTRON_DD" (the SDK's default).
	Service string
	// QueueSize bounds the messages waiting to be published. When it is
	// full, Handle drops the message it is given (never blocks), counts it
	// in Stats.Dropped and marks the item's image stale. Default 65536.
	QueueSize int
	// Batch is the most publishes in flight at once. Default 256.
	Batch int
	// ImageInterval is the least time between two image writes of one
	// item while only Updates arrive; a Refresh or Status is written with
	// the batch that carries it. Default 100 ms.
	ImageInterval time.Duration
	// AckTimeout is how long to wait for JetStream's acknowledgements of a
	// batch. Default 5 s.
	AckTimeout time.Duration
	// MaxRetries is how many times a publish whose acknowledgement failed
	// is retried (same Nats-Msg-Id, so JetStream stores it once) before
	// it is dropped. Default 5.
	MaxRetries int
	// RetryWait is the first pause between retries; it doubles up to 1 s.
	// Default 50 ms.
	RetryWait time.Duration
	// MaxRetryTime bounds the retries of one batch; what is still not
	// stored then is dropped. Default 30 s.
	MaxRetryTime time.Duration
	// Logger receives drop and failure reports (rate-limited). Default:
	// discard.
	Logger *slog.Logger
}

func (c *PublisherConfig) defaults() error {
	if c.Conn == nil {
		return errors.New("natsbus: PublisherConfig.Conn is nil")
	}
	if err := c.Streams.defaults(); err != nil {
		return err
	}
	if c.Service == "" {
		c.Service = "ELEKTRON_DD"
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 65536
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.ImageInterval <= 0 {
		c.ImageInterval = 100 * time.Millisecond
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 5
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 50 * time.Millisecond
	}
	if c.MaxRetryTime <= 0 {
		c.MaxRetryTime = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// PublisherStats counts what a Publisher did.
type PublisherStats struct {
	Received   int64 // item messages given to Handle
	Published  int64 // stored in the updates stream (acknowledged)
	Duplicates int64 // acknowledged as already stored (a retry that had in fact succeeded)
	Retried    int64 // publishes sent again after a failed acknowledgement
	Dropped    int64 // never stored: queue full, retries exhausted, or after Close
	Errors     int64 // failed publish attempts (each retry counts)
	Images     int64 // image writes acknowledged
	Skipped    int64 // messages that are not about an item, or not Refresh/Update/Status
	Queued     int   // waiting now
}

// pending is a message copied out of the SDK's buffers.
type pending struct {
	key      Key
	raw      []byte
	received time.Time
	typ      trjson.MsgType
	seq      int64
	hasSeq   bool
	state    trjson.State
	hasState bool
	enq      uint64 // position in the order of accepted messages
	id       string // Nats-Msg-Id, kept across retries
	// flushed is set on a Flush marker (no message), closed when done.
	flushed chan struct{}
}

// dropMark records that a message of key was dropped after the first
// `after` accepted messages: the image misses it once those are folded.
type dropMark struct {
	key   Key
	after uint64
}

// Publisher is an SDK sink that publishes every Refresh, Update and Status
// of each item to the updates stream and keeps the merged image of each
// item in the last-value stream. Handle never blocks.
type Publisher struct {
	cfg   PublisherConfig
	js    jetstream.JetStream
	runID string

	queue  chan *pending
	enq    atomic.Uint64
	closed atomic.Bool

	marksMu sync.Mutex
	marks   []dropMark

	stop      chan struct{} // Close asked: drain and exit
	abort     chan struct{} // Close's context expired: give up retries
	done      chan struct{}
	stopOnce  sync.Once
	abortOnce sync.Once

	received, published, duplicates, retried, dropped, errs, images, skipped atomic.Int64
	lastWarn                                                                 atomic.Int64

	// Owned by the worker goroutine.
	imgs     map[Key]*image
	dirty    []*image          // changed since their last write
	subjects map[Key][2]string // updates subject, image subject
	dec      trjson.Decoder
}

// NewPublisher creates or updates the streams and starts the publishing
// goroutine. Close it when done.
func NewPublisher(ctx context.Context, cfg PublisherConfig) (*Publisher, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	// nats.go forgets an async publish's future only on its answer or on
	// this timeout: without it, publishes lost with a connection would
	// pile up until its pending limit stalls every publish.
	js, err := jetstream.New(cfg.Conn, jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	if err := cfg.Streams.Ensure(ctx, js); err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, js: js, runID: nuid.Next(),
		queue: make(chan *pending, cfg.QueueSize),
		stop:  make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{}),
		imgs: map[Key]*image{}, subjects: map[Key][2]string{}}
	go p.run()
	return p, nil
}

// Handle is the consumer.Config.Handler: it copies what it keeps (the Msg
// aliases the SDK's buffers) and queues it. It never blocks: when the
// queue is full the message is dropped and counted.
func (p *Publisher) Handle(m *consumer.Msg) {
	switch m.Type {
	case trjson.TypeRefresh, trjson.TypeUpdate, trjson.TypeStatus:
	default:
		p.skipped.Add(1)
		return
	}
	if m.Name == "" || len(m.Raw) == 0 {
		p.skipped.Add(1)
		return
	}
	p.received.Add(1)
	k := Key{Service: m.Service, Domain: m.Domain, Name: m.Name}
	if k.Service == "" {
		k.Service = p.cfg.Service
	}
	if k.Domain == trjson.DomainUnknown {
		k.Domain = trjson.DomainMarketPrice
	}
	if p.closed.Load() {
		p.drop(k, "publisher closed")
		return
	}
	pm := &pending{key: k, raw: append([]byte(nil), m.Raw...), received: m.Received, typ: m.Type,
		seq: m.SeqNumber, hasSeq: m.HasSeq, state: m.State, hasState: m.HasState}
	// enq is reserved before the send so that the worker sees indexes in
	// queue order; Handle runs on the SDK's one delivery goroutine (two
	// with hot standby, serialised by the SDK), so reservation and send
	// do not interleave with another Handle.
	pm.enq = p.enq.Add(1)
	select {
	case p.queue <- pm:
	default:
		p.drop(k, "queue full")
	}
}

func (p *Publisher) drop(k Key, why string) {
	p.dropped.Add(1)
	p.marksMu.Lock()
	p.marks = append(p.marks, dropMark{key: k, after: p.enq.Load()})
	p.marksMu.Unlock()
	p.warn("natsbus: message dropped", "why", why, "item", k.String(), "dropped_total", p.dropped.Load())
}

// warn logs at most once every 10 s.
func (p *Publisher) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := p.lastWarn.Load()
	if now-last < int64(10*time.Second) || !p.lastWarn.CompareAndSwap(last, now) {
		return
	}
	p.cfg.Logger.Warn(msg, args...)
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Received: p.received.Load(), Published: p.published.Load(), Duplicates: p.duplicates.Load(),
		Retried: p.retried.Load(), Dropped: p.dropped.Load(), Errors: p.errs.Load(), Images: p.images.Load(),
		Skipped: p.skipped.Load(), Queued: len(p.queue)}
}

// Close stops accepting messages, publishes what is queued, writes every
// pending image and returns. When ctx ends first, retries stop, what is
// left is counted as dropped and ctx's error is returned. Close the SDK
// client first: a Handle running while Close drains may leave its message
// neither published nor counted as dropped.
func (p *Publisher) Close(ctx context.Context) error {
	p.closed.Store(true)
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.abortOnce.Do(func() { close(p.abort) })
		<-p.done
		return fmt.Errorf("natsbus: publisher close: %w", ctx.Err())
	}
}

func (p *Publisher) run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.ImageInterval)
	defer tick.Stop()
	batch := make([]*pending, 0, p.cfg.Batch)
	for {
		var marker *pending
		batch = batch[:0]
		select {
		case pm := <-p.queue:
			batch, marker = p.fill(append(batch, pm))
		case <-tick.C:
			p.flushImages(false)
			continue
		case <-p.stop:
			// Drain: the closed flag stops new messages; what is queued
			// goes out unless Close's context ends.
			for len(p.queue) > 0 {
				batch, marker = p.fill(batch[:0])
				p.publishBatch(batch)
				if marker != nil {
					close(marker.flushed)
				}
			}
			p.applyMarks(p.enq.Load())
			p.flushImages(true)
			return
		}
		p.publishBatch(batch)
		if marker != nil {
			p.applyMarks(marker.enq)
			p.flushImages(true)
			close(marker.flushed)
			continue
		}
		p.flushImages(false)
	}
}

// fill adds queued messages to batch up to the batch size without
// waiting; it stops at a Flush marker, which it returns apart.
func (p *Publisher) fill(batch []*pending) ([]*pending, *pending) {
	if n := len(batch); n > 0 && batch[n-1].flushed != nil {
		return batch[:n-1], batch[n-1]
	}
	for len(batch) < p.cfg.Batch {
		select {
		case pm := <-p.queue:
			if pm.flushed != nil {
				return batch, pm
			}
			batch = append(batch, pm)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// Flush waits until every message handed to Handle before the call has
// been published (or counted as dropped) and every changed image written.
// Unlike Handle it blocks; it is for shutdown paths and tests.
func (p *Publisher) Flush(ctx context.Context) error {
	if p.closed.Load() {
		return fmt.Errorf("natsbus: flush: publisher closed")
	}
	m := &pending{flushed: make(chan struct{}), enq: p.enq.Load()}
	select {
	case p.queue <- m:
	case <-p.done:
		return fmt.Errorf("natsbus: flush: publisher closed")
	case <-ctx.Done():
		return fmt.Errorf("natsbus: flush: %w", ctx.Err())
	}
	select {
	case <-m.flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("natsbus: flush: %w", ctx.Err())
	}
}

func (p *Publisher) subjectsOf(k Key) ([2]string, error) {
	if s, ok := p.subjects[k]; ok {
		return s, nil
	}
	u, err := p.cfg.Streams.UpdateSubject(k)
	if err != nil {
		return [2]string{}, err
	}
	l, _ := p.cfg.Streams.LastSubject(k)
	s := [2]string{u, l}
	p.subjects[k] = s
	return s, nil
}

func (p *Publisher) updateMsg(pm *pending, subject string) *nats.Msg {
	h := nats.Header{}
	if pm.id == "" {
		seq := "-"
		if pm.hasSeq {
			seq = strconv.FormatInt(pm.seq, 10)
		}
		// Unique per message of this Publisher (a restarted SDK may send
		// another message with the same SeqNumber), stable across retries.
		pm.id = pm.key.Service + "|" + pm.key.Domain.String() + "|" + pm.key.Name + "|" + seq + "|" + p.runID + "." + strconv.FormatUint(pm.enq, 10)
	}
	h.Set(jetstream.MsgIDHeader, pm.id)
	h.Set(HeaderType, pm.typ.String())
	if !pm.received.IsZero() {
		h.Set(HeaderReceived, pm.received.UTC().Format(time.RFC3339Nano))
	}
	if pm.hasSeq {
		h.Set(HeaderSeq, strconv.FormatInt(pm.seq, 10))
	}
	if pm.hasState {
		h.Set(HeaderState, stateHeader(pm.state))
	}
	return &nats.Msg{Subject: subject, Data: pm.raw, Header: h}
}

func stateHeader(st trjson.State) string {
	return st.Stream.String() + "/" + st.Data.String() + "/" + st.Code.String()
}

// publishBatch publishes a batch with its retries and folds what was
// stored into the images, in queue order.
func (p *Publisher) publishBatch(batch []*pending) {
	if len(batch) == 0 {
		return
	}
	msgs := make([]*nats.Msg, len(batch))
	ok := make([]bool, len(batch))
	seqs := make([]uint64, len(batch))
	for i, pm := range batch {
		subj, err := p.subjectsOf(pm.key)
		if err != nil {
			// Cannot be encoded (an empty name is filtered earlier):
			// counted, never retried.
			p.errs.Add(1)
			p.dropped.Add(1)
			p.warn("natsbus: message not publishable", "item", pm.key.String(), "err", err)
			ok[i] = true // nothing to retry; seqs[i] == 0 marks it lost
			continue
		}
		msgs[i] = p.updateMsg(pm, subj[0])
	}
	p.sendAll(msgs, ok, seqs, &p.published)
	lastEnq := uint64(0)
	for i, pm := range batch {
		lastEnq = pm.enq
		if msgs[i] == nil {
			continue
		}
		im := p.imageOf(pm.key)
		if !ok[i] {
			p.dropped.Add(1)
			im.stale++
			p.touch(im, true)
			continue
		}
		p.fold(im, pm, seqs[i])
		p.applyMarks(pm.enq)
	}
	p.applyMarks(lastEnq)
}

// sendAll publishes msgs (nil entries are skipped) asynchronously and
// waits for their acknowledgements; ok and seqs receive each message's
// outcome and stream sequence. The failed ones are then retried one at a
// time, in order, each at most MaxRetries times with a doubling pause,
// all within MaxRetryTime: a pipelined retry (or nats.go's own, which
// runs each retry on its own timer and is switched off) could store an
// item's messages out of order.
func (p *Publisher) sendAll(msgs []*nats.Msg, ok []bool, seqs []uint64, counter *atomic.Int64) {
	futs := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		if m == nil || ok[i] {
			continue
		}
		if f, err := p.js.PublishMsgAsync(m, jetstream.WithRetryAttempts(0)); err == nil {
			futs[i] = f
		}
	}
	deadline := time.NewTimer(p.cfg.AckTimeout)
	defer deadline.Stop()
	var failed []int
	for i, m := range msgs {
		if m == nil || ok[i] {
			continue
		}
		if err := p.await(futs[i], deadline, i, ok, seqs, counter); err != nil {
			p.errs.Add(1)
			p.warn("natsbus: publish failed", "subject", m.Subject, "err", err)
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		return
	}
	// One pause after a failure, not one per message: once the stream
	// answers again, the rest go out at the speed of its acknowledgements.
	giveUp := time.Now().Add(p.cfg.MaxRetryTime)
	wait, pause := p.cfg.RetryWait, true
	for _, i := range failed {
		for attempt := 1; attempt <= p.cfg.MaxRetries && time.Now().Before(giveUp) && !p.aborted(); attempt++ {
			if pause {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-p.abort:
					t.Stop()
				}
				wait = min(2*wait, time.Second)
			}
			p.retried.Add(1)
			f, _ := p.js.PublishMsgAsync(msgs[i], jetstream.WithRetryAttempts(0))
			deadline.Reset(p.cfg.AckTimeout)
			err := p.await(f, deadline, i, ok, seqs, counter)
			if err == nil {
				wait, pause = p.cfg.RetryWait, false
				break
			}
			pause = true
			p.errs.Add(1)
			p.warn("natsbus: publish retry failed", "subject", msgs[i].Subject, "attempt", attempt, "err", err)
		}
	}
}

// await waits for one acknowledgement (f nil: the client refused the
// publish) and records it.
func (p *Publisher) await(f jetstream.PubAckFuture, deadline *time.Timer, i int, ok []bool, seqs []uint64, counter *atomic.Int64) error {
	if f == nil {
		return errors.New("publish refused by the client")
	}
	select {
	case a := <-f.Ok():
		ok[i], seqs[i] = true, a.Sequence
		counter.Add(1)
		if a.Duplicate {
			p.duplicates.Add(1)
		}
		return nil
	case err := <-f.Err():
		return err
	case <-deadline.C:
		deadline.Reset(0) // the rest of the batch has timed out too
		return errors.New("acknowledgement timeout")
	case <-p.abort:
		return errors.New("publisher closing")
	}
}

func (p *Publisher) aborted() bool {
	select {
	case <-p.abort:
		return true
	default:
		return false
	}
}

func (p *Publisher) imageOf(k Key) *image {
	im := p.imgs[k]
	if im == nil {
		im = newImage(k)
		p.imgs[k] = im
	}
	return im
}

// fold applies a stored message to its item's image.
func (p *Publisher) fold(im *image, pm *pending, streamSeq uint64) {
	msgs, err := p.dec.Decode(pm.raw)
	if err != nil || len(msgs) != 1 {
		// The SDK decoded it, so this does not happen; if it did, the
		// image would miss the message: say so on the image.
		im.stale++
		im.streamSeq = max(im.streamSeq, streamSeq)
		p.errs.Add(1)
		p.touch(im, true)
		return
	}
	m := &msgs[0]
	if m.Type == trjson.TypeRefresh && m.PartNumber == 0 {
		im.stale = 0
	}
	if err := im.apply(m, streamSeq); err != nil {
		im.stale++
		p.errs.Add(1)
	}
	p.touch(im, m.Type != trjson.TypeUpdate)
}

// applyMarks marks stale the images that miss a message dropped after
// the first `upTo` accepted ones.
func (p *Publisher) applyMarks(upTo uint64) {
	p.marksMu.Lock()
	n := 0
	for _, mk := range p.marks {
		if mk.after > upTo {
			break
		}
		im := p.imageOf(mk.key)
		im.stale++
		p.touch(im, true)
		n++
	}
	p.marks = p.marks[n:]
	p.marksMu.Unlock()
}

// touch marks an image changed (urgent: to be written with the next
// flush rather than after ImageInterval).
func (p *Publisher) touch(im *image, urgent bool) {
	if !im.dirty {
		im.dirty = true
		p.dirty = append(p.dirty, im)
	}
	if urgent {
		im.urgent = true
	}
}

// flushImages writes the images that are due: urgent ones, and changed
// ones not written for ImageInterval (all changed ones when final).
func (p *Publisher) flushImages(final bool) {
	if len(p.dirty) == 0 {
		return
	}
	now := time.Now()
	var (
		msgs []*nats.Msg
		ims  []*image
	)
	keep := p.dirty[:0]
	for _, im := range p.dirty {
		if !final && !im.urgent && now.Sub(im.written) < p.cfg.ImageInterval {
			keep = append(keep, im)
			continue
		}
		im.dirty = false
		subj, err := p.subjectsOf(im.key)
		if err != nil || im.streamSeq == 0 {
			// Not publishable, or nothing of the item stored yet (only a
			// loss): no image rather than an empty one.
			continue
		}
		h := nats.Header{}
		h.Set(HeaderUpdatesSeq, strconv.FormatUint(im.streamSeq, 10))
		if im.hasSeq {
			h.Set(HeaderSeq, strconv.FormatInt(im.seq, 10))
		}
		if im.hasState {
			h.Set(HeaderState, stateHeader(im.state))
		}
		if im.stale > 0 {
			h.Set(HeaderStale, strconv.Itoa(im.stale))
		}
		h.Set(HeaderType, trjson.TypeRefresh.String())
		h.Set(jetstream.MsgIDHeader, "img|"+p.runID+"|"+subj[1]+"|"+strconv.FormatUint(im.streamSeq, 10)+"|"+strconv.Itoa(im.stale))
		msgs = append(msgs, &nats.Msg{Subject: subj[1], Data: im.encode(nil), Header: h})
		ims = append(ims, im)
		im.urgent, im.written = false, now
	}
	clear(p.dirty[len(keep):])
	p.dirty = keep
	for start := 0; start < len(msgs); start += p.cfg.Batch {
		end := min(start+p.cfg.Batch, len(msgs))
		ok := make([]bool, end-start)
		seqs := make([]uint64, end-start)
		p.sendAll(msgs[start:end], ok, seqs, &p.images)
		for i, good := range ok {
			if !good {
				// The store keeps an older image, which the join
				// tolerates; write this one again next time.
				p.touch(ims[start+i], false)
			}
		}
	}
}
