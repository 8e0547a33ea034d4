package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// An inbound frame goes through up to three goroutines of its
// connection: the reader (TLS and WebSocket), a decode worker, and the
// connection's loop (routing, caching, the Handler). Decoding is most of
// a client's CPU, so with decode workers a connection uses more than one
// core, and the reader is already taking frame n+1 off the socket while
// frame n is decoded. Order is kept: the loop takes frames in the order
// they were read and waits for each to be decoded.
//
// A connection owns frameSlots frames; each carries its buffer and, with
// workers, a decoder fork (arenas of its own, interning tables of its
// worker), so nothing is allocated per frame and a frame's messages stay
// valid until the loop hands the frame back.
const frameSlots = 8

// maxDecodeWorkers bounds Config.DecodeWorkers.
const maxDecodeWorkers = 8

// workerMinFrame is the smallest frame handed to a decode worker; a
// smaller one (a few messages) costs less to decode than the two extra
// goroutine hand-offs, and the loop decodes it itself.
const workerMinFrame = 2048

type frame struct {
	buf    []byte
	at     time.Time // when it was read
	dec    *trjson.Decoder
	msgs   []trjson.Msg
	err    error
	worker int           // the decode worker owning dec; -1: none
	queued bool          // given to the worker (else the loop decodes it)
	ready  chan struct{} // a token once decoded by the worker
}

// decodeWorkers maps Config.DecodeWorkers to a number of workers.
func decodeWorkers(n int) int {
	return min(max(n, 0), maxDecodeWorkers)
}

// initFrames builds the frame pool and starts the decode workers
// (Config.DecodeWorkers). It runs before the reader starts.
func (cn *conn) initFrames(n int) {
	workers := decodeWorkers(n)
	cn.frames = make(chan *frame, frameSlots)
	cn.free = make(chan *frame, frameSlots)
	bases := make([]*trjson.Decoder, max(workers, 1))
	for i := range bases {
		bases[i] = new(trjson.Decoder)
	}
	cn.dec = bases[0]
	if workers > 0 {
		// The loop's own decoder for small frames: the workers' tables
		// are not safe for use beside them.
		cn.dec = new(trjson.Decoder)
	}
	cn.work = make([]chan *frame, workers)
	for w := range cn.work {
		cn.work[w] = make(chan *frame, frameSlots)
	}
	for i := range frameSlots {
		f := &frame{worker: -1}
		if workers > 0 {
			f.worker = i % workers
			f.ready = make(chan struct{}, 1)
		}
		if workers > 0 {
			f.dec = bases[f.worker].Fork()
		}
		cn.free <- f
	}
	for w := range cn.work {
		cn.wg.Add(1)
		go cn.decodeWorker(cn.work[w])
	}
}

// decodeWorker decodes the frames queued to it until the reader closes
// its queue; every frame it was given is decoded, so the loop never waits
// for one in vain.
func (cn *conn) decodeWorker(work <-chan *frame) {
	defer cn.wg.Done()
	for f := range work {
		f.msgs, f.err = f.dec.Decode(f.buf)
		f.ready <- struct{}{}
	}
}

// decoded returns the messages of f, decoding it here unless a worker
// did. The loop decodes into its own decoder, whose results stay valid
// until it decodes the next frame.
func (cn *conn) decoded(f *frame) ([]trjson.Msg, error) {
	if !f.queued {
		return cn.dec.Decode(f.buf)
	}
	<-f.ready
	return f.msgs, f.err
}

// release hands a frame back to the reader; a very large buffer is left
// to the garbage collector so that one huge frame does not pin memory.
func (cn *conn) release(f *frame) {
	if cap(f.buf) > 1<<20 {
		f.buf = nil
	} else {
		f.buf = f.buf[:0]
	}
	f.msgs, f.err, f.queued = nil, nil, false
	cn.free <- f // never blocks: the pool holds exactly frameSlots frames
}

// reader takes frames off the socket and queues them, in order, to the
// decode workers and the loop. Pings are answered here, so that a slow
// application never delays the Pong.
func (cn *conn) reader() {
	defer cn.wg.Done()
	defer func() {
		for _, w := range cn.work {
			close(w)
		}
	}()
	for {
		var f *frame
		// Non-blocking attempts first: a select over several channels
		// locks them all, which at one message per frame costs more
		// than decoding it.
		select {
		case f = <-cn.free:
		default:
			select {
			case f = <-cn.free:
			case <-cn.ctx.Done():
				return
			}
		}
		p, err := cn.t.Read(context.Background(), f.buf) // no per-read context: see start
		if err != nil {
			cn.cancel(fmt.Errorf("%w: %w", ErrDisconnected, err))
			return
		}
		f.buf, f.at = p, time.Now()
		cn.lastRecv.Store(f.at.UnixNano())
		if isPing(p) {
			cn.enqueue(pongFrame)
			cn.release(f)
			continue
		}
		if f.worker >= 0 && len(p) >= workerMinFrame {
			f.queued = true
			cn.work[f.worker] <- f // never blocks: at most frameSlots frames are out
		}
		select {
		case cn.frames <- f:
		default:
			select {
			case cn.frames <- f:
			case <-cn.ctx.Done():
				return
			}
		}
	}
}
