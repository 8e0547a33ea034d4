package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// PlayOptions configure a Player. The zero value plays the whole
// recording once at its recorded pace.
type PlayOptions struct {
	// From skips the records received earlier than From after the first
	// record of the recording.
	From time.Duration
	// Speed plays Speed times faster than recorded (0.5 is half speed).
	// Default 1.
	Speed float64
	// Fast plays as fast as the caller takes records, ignoring Speed.
	Fast bool
	// Loop starts over (from From) at the end, until the context ends.
	Loop bool
}

// Player yields the records of a recording in order, at the pace they
// were received (scaled by Speed), from a time offset. It is independent
// of any server: a replay source, a test or an export pulls records with
// Next. It is not safe for concurrent use.
type Player struct {
	files []*Reader
	opts  PlayOptions

	first  int64 // time of the recording's first record
	from   int64 // first - From
	file   int
	it     *Iter
	pass   int
	played int64
	total  int64

	paceWall time.Time // wall time of the pass's first record
	paceRec  int64     // its receive time
	paced    bool

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewPlayer plays the files of one recording (the files of a rotated
// recording, in any order: they are sorted by their headers). The
// Player does not close them.
func NewPlayer(files []*Reader, opts PlayOptions) (*Player, error) {
	if len(files) == 0 {
		return nil, errors.New("record: no files to play")
	}
	if opts.Speed < 0 {
		return nil, fmt.Errorf("record: speed %v: must be positive", opts.Speed)
	}
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	if opts.From < 0 {
		return nil, fmt.Errorf("record: from %v: must not be negative", opts.From)
	}
	fs := append([]*Reader(nil), files...)
	sort.SliceStable(fs, func(i, j int) bool {
		hi, hj := fs[i].Header(), fs[j].Header()
		if !hi.Start.Equal(hj.Start) {
			return hi.Start.Before(hj.Start)
		}
		return hi.Segment < hj.Segment
	})
	p := &Player{files: fs, opts: opts, now: time.Now, sleep: sleepCtx}
	found := false
	for _, f := range fs {
		if a, _, ok := f.Span(); ok && (!found || a < p.first) {
			p.first, found = a, true
		}
	}
	p.from = p.first + int64(opts.From)
	for _, f := range fs {
		for _, b := range f.Blocks() {
			if b.Last >= p.from {
				p.total += int64(b.Records)
			}
		}
	}
	p.restart()
	return p, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Player) restart() {
	p.file = 0
	p.it = p.files[0].Iter(p.from)
	p.paced = false
}

// Next returns the next record once it is due, io.EOF at the end (never
// with Loop), ctx's error if ctx ends first, or a *DamageError for a
// damaged file after the records before the damage. The record is valid
// until the next call.
func (p *Player) Next(ctx context.Context) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for !p.it.Next() {
		if err := p.it.Err(); err != nil {
			return nil, err
		}
		p.file++
		if p.file >= len(p.files) {
			if !p.opts.Loop || p.played == 0 {
				return nil, io.EOF
			}
			p.pass++
			p.restart()
			continue
		}
		p.it = p.files[p.file].Iter(p.from)
	}
	r := p.it.Record()
	p.played++
	if p.opts.Fast {
		return r, nil
	}
	if !p.paced {
		p.paceWall, p.paceRec, p.paced = p.now(), r.Time, true
		return r, nil
	}
	due := p.paceWall.Add(time.Duration(float64(r.Time-p.paceRec) / p.opts.Speed))
	// Records due within a millisecond go out together: one timer per
	// record would cost more than the pacing is worth at high rates.
	if d := due.Sub(p.now()); d > time.Millisecond {
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Offset returns the current record's time since the first record of the
// recording.
func (p *Player) Offset(r *Record) time.Duration { return time.Duration(r.Time - p.first) }

// Progress returns the records played (over all passes) and the number
// in one pass from From (counted by blocks, so up to one block more).
func (p *Player) Progress() (played, total int64) { return p.played, p.total }

// Pass returns how many times the Player has started over (Loop).
func (p *Player) Pass() int { return p.pass }
