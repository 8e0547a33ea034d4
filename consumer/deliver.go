package consumer

import (
	"sync"
)

// queue is the bounded delivery queue behind Client.Messages. Block waits
// for room; DropOldest discards the head; ConflatePerItem merges an update
// into the same item's queued update.
type queue struct {
	policy SlowConsumerPolicy
	max    int
	cnt    *counters

	mu     sync.Mutex
	msgs   []*Msg // FIFO
	room   chan struct{}
	ready  chan struct{}
	out    chan *Msg
	closed bool
}

func newQueue(policy SlowConsumerPolicy, max int, cnt *counters) *queue {
	return &queue{policy: policy, max: max, cnt: cnt, room: make(chan struct{}, 1),
		ready: make(chan struct{}, 1), out: make(chan *Msg)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push queues a copy of m; it returns false when done closed while blocked.
func (q *queue) push(m *Msg, done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return false
		}
		if q.policy == ConflatePerItem && m.Item != nil && m.Type == updateType {
			if p := m.Item.pending; p != nil {
				mergeUpdate(p, m)
				q.cnt.conflated.Add(1)
				q.mu.Unlock()
				return true
			}
		}
		if len(q.msgs) < q.max {
			c := m.Clone()
			if q.policy == ConflatePerItem && c.Item != nil && c.Type == updateType {
				c.Item.pending = c
			} else if c.Item != nil && q.policy == ConflatePerItem {
				c.Item.pending = nil // keep order: later updates must not jump a Refresh
			}
			q.msgs = append(q.msgs, c)
			q.mu.Unlock()
			signal(q.ready)
			return true
		}
		if q.policy != Block {
			old := q.msgs[0]
			q.msgs = q.msgs[1:]
			if old.Item != nil && old.Item.pending == old {
				old.Item.pending = nil
			}
			q.cnt.drops.Add(1)
			q.mu.Unlock()
			continue
		}
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-done:
			return false
		}
	}
}

// pump moves queued messages to the out channel until done.
func (q *queue) pump(done <-chan struct{}) {
	defer close(q.out)
	for {
		q.mu.Lock()
		var m *Msg
		if len(q.msgs) > 0 {
			m = q.msgs[0]
			q.msgs[0] = nil
			q.msgs = q.msgs[1:]
			if m.Item != nil && m.Item.pending == m {
				m.Item.pending = nil
			}
		}
		q.mu.Unlock()
		if m == nil {
			select {
			case <-q.ready:
				continue
			case <-done:
				q.mu.Lock()
				q.closed = true
				q.mu.Unlock()
				return
			}
		}
		signal(q.room)
		select {
		case q.out <- m:
			q.cnt.delivered.Add(1)
		case <-done:
			q.mu.Lock()
			q.closed = true
			q.mu.Unlock()
			return
		}
	}
}

// mergeUpdate folds a newer update into a queued one: fields replaced or
// appended, sequence and raw text of the newer message.
func mergeUpdate(dst, src *Msg) {
	for _, f := range src.Fields {
		f = f.Clone()
		if old := dst.Field(f.Name); old != nil {
			*old = f
		} else {
			dst.Fields = append(dst.Fields, f)
		}
	}
	dst.SeqNumber, dst.HasSeq, dst.UpdateType = src.SeqNumber, src.HasSeq, src.UpdateType
	dst.Raw = append(dst.Raw[:0:0], src.Raw...)
}
