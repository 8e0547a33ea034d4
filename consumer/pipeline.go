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
// A connection owns frameSlots frames; each carries its buffer and a
// decoder fork (arenas of its own, interning tables of its worker), so
// nothing is allocated per frame and a frame's messages stay valid until
// the loop hands the frame back.
const frameSlots = 8

// maxDecodeWorkers bounds Config.DecodeWorkers.
const maxDecodeWorkers = 8

type frame struct {
	buf    []byte
	at     time.Time // when it was read
	dec    *trjson.Decoder
	msgs   []trjson.Msg
	err    error
	worker int           // the decode worker owning dec; -1: the loop decodes
	ready  chan struct{} // a token once decoded (with workers)
}

// decodeWorkers maps Config.DecodeWorkers to a number of workers.
func decodeWorkers(n int) int {
	switch {
	case n == 0:
		return 1
	case n < 0:
		return 0
	}
	return min(n, maxDecodeWorkers)
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
		f.dec = bases[max(f.worker, 0)].Fork()
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

// decoded returns the messages of f, decoding it here when the connection
// has no decode workers.
func (cn *conn) decoded(f *frame) ([]trjson.Msg, error) {
	if f.worker < 0 {
		return f.dec.Decode(f.buf)
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
	f.msgs, f.err = nil, nil
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
		select {
		case f = <-cn.free:
		case <-cn.ctx.Done():
			return
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
		if f.worker >= 0 {
			cn.work[f.worker] <- f // never blocks: at most frameSlots frames are out
		}
		select {
		case cn.frames <- f:
		case <-cn.ctx.Done():
			return
		}
	}
}
