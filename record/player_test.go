package record

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// fakeClock advances only when the Player sleeps, so pacing is checked
// exactly and without waiting.
type fakeClock struct{ now time.Time }

func (c *fakeClock) install(p *Player) {
	p.now = func() time.Time { return c.now }
	p.sleep = func(_ context.Context, d time.Duration) error { c.now = c.now.Add(d); return nil }
}

func openTestPlayer(t *testing.T, msgs []testMsg, opts PlayOptions) *Player {
	t.Helper()
	rd, err := Open(writeRecording(t, msgs, Options{BlockSize: 4 << 10, QueueBlocks: lossless}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	p, err := NewPlayer([]*Reader{rd}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlayerPace(t *testing.T) {
	msgs := synthMsgs(2000, []string{"A", "B", "C"}, time.Unix(1_700_000_000, 0), 7*time.Millisecond)
	for _, speed := range []float64{1, 2, 0.5, 10} {
		p := openTestPlayer(t, msgs, PlayOptions{Speed: speed})
		clk := &fakeClock{now: time.Unix(100, 0)}
		clk.install(p)
		start := clk.now
		for i := range msgs {
			r, err := p.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.Time != msgs[i].t || string(r.Msg) != string(msgs[i].raw) {
				t.Fatalf("record %d differs", i)
			}
			// Due at its recorded offset divided by speed; records within
			// 1 ms of their due time go out without a sleep.
			due := time.Duration(float64(msgs[i].t-msgs[0].t) / speed)
			if got := clk.now.Sub(start); got > due || got < due-time.Millisecond {
				t.Fatalf("speed %v: record %d played at %v, due at %v", speed, i, got, due)
			}
		}
		if _, err := p.Next(context.Background()); err != io.EOF {
			t.Fatalf("after the last record: %v", err)
		}
	}
}

func TestPlayerFromFastLoop(t *testing.T) {
	msgs := synthMsgs(3000, []string{"A", "B"}, time.Unix(1_700_000_000, 0), time.Millisecond)
	p := openTestPlayer(t, msgs, PlayOptions{From: 1234 * time.Millisecond, Fast: true, Loop: true})
	p.sleep = func(context.Context, time.Duration) error { t.Fatal("Fast sleeps"); return nil }
	want := msgs[1234:]
	for pass := 0; pass < 3; pass++ {
		for i := range want {
			r, err := p.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.Time != want[i].t || r.Name != want[i].name {
				t.Fatalf("pass %d record %d: %d %s, want %d %s", pass, i, r.Time, r.Name, want[i].t, want[i].name)
			}
			if pass == 0 && i == 0 && p.Offset(r) != 1234*time.Millisecond {
				t.Fatalf("offset %v", p.Offset(r))
			}
		}
	}
	if p.Pass() != 2 {
		t.Fatalf("pass %d", p.Pass())
	}
	if played, total := p.Progress(); total < int64(len(want)) || total > int64(len(want))+200 || played != 3*int64(len(want)) {
		t.Fatalf("progress %d/%d", played, total)
	}
}

func TestPlayerContext(t *testing.T) {
	// Two records an hour apart: Next waits for the second until ctx ends.
	msgs := synthMsgs(2, []string{"A"}, time.Unix(1_700_000_000, 0), time.Hour)
	p := openTestPlayer(t, msgs, PlayOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := p.Next(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := p.Next(ctx); errc <- err }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return on cancel")
	}
}

func TestPlayerBadOptions(t *testing.T) {
	if _, err := NewPlayer(nil, PlayOptions{}); err == nil {
		t.Error("no files accepted")
	}
	msgs := synthMsgs(2, []string{"A"}, time.Unix(1_700_000_000, 0), time.Second)
	rd, err := Open(writeRecording(t, msgs, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for _, o := range []PlayOptions{{Speed: -1}, {From: -time.Second}} {
		if _, err := NewPlayer([]*Reader{rd}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
