package server

import (
	"bytes"
	"strconv"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Load mode (Config.LoadMode): every stream of a connection gets updates
// as fast as the connection drains them. Each stream cycles through a
// ring of loadRing distinct updates generated once from its instrument;
// every update carries a fresh SeqNumber and SendTimeField (Unix ns when
// its frame was built), so a client can measure latency and detect gaps.
//
// To measure transport rather than JSON encoding, each ring entry is
// encoded once with trjson.AppendMsg into a template split around the
// SeqNumber and the send time; sending an update then costs two integer
// formats and a copy. Frames are packed like every other frame: at most
// Pack messages, at most MaxMsgSize bytes.

const loadRing = 64

// Sentinels written into templates where the per-update numbers go.
const (
	seqSentinel  int64 = 8765432109876543
	timeSentinel int64 = 7654321098765432109
)

type loadState struct {
	ring [loadRing]loadTick
	pos  int
	seq  int64
	// tmpl holds the encoded ring for view tmplFor (nil = no view);
	// rebuilt when the stream's view changes.
	tmpl    [loadRing]loadTmpl
	tmplFor *view
	built   bool
}

type loadTick struct {
	ut     trjson.UpdateType
	fields []trjson.Field
}

// loadTmpl encodes one update as a + SeqNumber + b + send time + c; an
// empty a means "nothing in view" (suppressed).
type loadTmpl struct{ a, b, c []byte }

// newLoadState precomputes the ring; called with Hub.mu held.
func newLoadState(inst Instrument) *loadState {
	ls := &loadState{}
	for i := range ls.ring {
		ut, f, seq := inst.Tick(nil)
		fs := make([]trjson.Field, len(f))
		for j := range f {
			fs[j] = f[j].Clone()
		}
		ls.ring[i] = loadTick{ut: ut, fields: fs}
		ls.seq = seq
	}
	return ls
}

func (ls *loadState) templates(s *sub, svc string) *[loadRing]loadTmpl {
	v := s.view.Load()
	if ls.built && ls.tmplFor == v {
		return &ls.tmpl
	}
	seqText := []byte(strconv.FormatInt(seqSentinel, 10))
	timeText := []byte(strconv.FormatInt(timeSentinel, 10))
	for i, lt := range ls.ring {
		fs := make([]trjson.Field, 0, len(lt.fields)+1)
		for _, f := range lt.fields {
			if v == nil {
				fs = append(fs, f)
			} else if _, ok := v.set[f.Name]; ok {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			ls.tmpl[i] = loadTmpl{}
			continue
		}
		// The send time goes last; it is not a dictionary field a view
		// could name.
		fs = append(fs, trjson.Int(SendTimeField, timeSentinel))
		m := trjson.Msg{Type: trjson.TypeUpdate, ID: s.id, Domain: s.domain, UpdateType: lt.ut,
			SeqNumber: seqSentinel, HasSeqNumber: true, Fields: fs, HasFields: true}
		if s.keyInUpdates {
			m.Key, m.HasKey = trjson.Key{Name: s.name, Service: svc}, true
		}
		enc := trjson.AppendMsg(nil, &m)
		si := bytes.Index(enc, seqText)
		ti := bytes.LastIndex(enc, timeText)
		if si < 0 || ti < si+len(seqText) {
			panic("server: load template without sentinels: " + string(enc))
		}
		ls.tmpl[i] = loadTmpl{a: enc[:si], b: enc[si+len(seqText) : ti], c: enc[ti+len(timeText):]}
	}
	ls.tmplFor, ls.built = v, true
	return &ls.tmpl
}

// loadWriter builds load-mode frames round-robin over the streams.
// A load-mode writer fills up to loadBurst frames, or loadFlushAt bytes,
// between two flushes of its connection.
const (
	loadBurst   = 64
	loadFlushAt = 32 << 10
)

type loadWriter struct {
	rr    int
	subs  []*sub
	frame []byte
}

// fill builds one frame of up to pack updates and hands it to write; it
// returns the number of updates written.
func (l *loadWriter) fill(c *conn, pack, maxSize int, write func(frame []byte, n int)) int {
	c.smu.Lock()
	l.subs = append(l.subs[:0], c.loadSubs...)
	c.smu.Unlock()
	if len(l.subs) == 0 || c.pausedAll.Load() {
		return 0
	}
	now := time.Now().UnixNano()
	f := append(l.frame[:0], '[')
	n := 0
	for range pack {
		s := l.subs[l.rr%len(l.subs)]
		l.rr++
		if s.closed.Load() || s.paused.Load() || s.held.Load() {
			continue
		}
		ls := s.load
		t := &ls.templates(s, c.cfg.Service)[ls.pos%loadRing]
		ls.pos++
		if len(t.a) == 0 {
			continue
		}
		mark := len(f)
		if n > 0 {
			f = append(f, ',')
		}
		ls.seq++
		f = append(f, t.a...)
		f = strconv.AppendInt(f, ls.seq, 10)
		f = append(f, t.b...)
		f = strconv.AppendInt(f, now, 10)
		f = append(f, t.c...)
		if len(f)+1 > maxSize && n > 0 {
			f = f[:mark]
			ls.seq--
			ls.pos--
			l.rr--
			break
		}
		n++
	}
	l.frame = f
	if n > 0 {
		write(append(f, ']'), n)
	}
	return n
}
