package record_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/record"
)

// Record what the SDK delivers: Writer.Handle is a consumer.Config.Handler
// (and Writer.Event an OnEvent). Here two messages are handed over as the
// SDK would, then the file is read back.
func ExampleWriter() {
	dir, _ := os.MkdirTemp("", "rec")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rec.ert.zst")

	w, err := record.Create(path, record.Options{Items: []string{"TRI.N"}, Source: "example"})
	if err != nil {
		log.Fatal(err)
	}
	// cfg := consumer.Config{..., Handler: w.Handle, OnEvent: w.Event}
	t0 := time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC)
	w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0,
		Raw: []byte(`{"ID":2,"Type":"Refresh","Key":{"Name":"TRI.N"},"Fields":{"BID":171.2,"ASK":171.3}}`)})
	w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0.Add(250 * time.Millisecond),
		Raw: []byte(`{"ID":2,"Type":"Update","UpdateType":"Quote","SeqNumber":16,"Fields":{"BID":171.25}}`)})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("dropped:", w.Stats().Dropped)

	rd, err := record.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer rd.Close()
	it := rd.Iter(0)
	for it.Next() {
		r := it.Record()
		fmt.Println(r.When().UTC().Format("15:04:05.000"), r.Name, string(r.Msg))
	}
	if err := it.Err(); err != nil { // a *record.DamageError names the offset
		log.Fatal(err)
	}
	// Output:
	// dropped: 0
	// 14:30:00.000 TRI.N {"ID":2,"Type":"Refresh","Key":{"Name":"TRI.N"},"Fields":{"BID":171.2,"ASK":171.3}}
	// 14:30:00.250 TRI.N {"ID":2,"Type":"Update","UpdateType":"Quote","SeqNumber":16,"Fields":{"BID":171.25}}
}

// Play a recording back: at its recorded pace (Speed 1), N times faster,
// or as fast as possible, from a time offset.
func ExamplePlayer() {
	dir, _ := os.MkdirTemp("", "rec")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rec.ert.zst")
	w, err := record.Create(path, record.Options{})
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		w.Handle(&consumer.Msg{Name: "EUR=", Received: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Raw: fmt.Appendf(nil, `{"ID":3,"Type":"Update","SeqNumber":%d,"Fields":{"BID":1.05%d}}`, 16*(i+1), i)})
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	rd, err := record.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer rd.Close()
	// From 200 ms into the recording, ten times faster than recorded.
	p, err := record.NewPlayer([]*record.Reader{rd}, record.PlayOptions{From: 200 * time.Millisecond, Speed: 10})
	if err != nil {
		log.Fatal(err)
	}
	for {
		r, err := p.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Offset(r), string(r.Msg))
	}
	// Output:
	// 200ms {"ID":3,"Type":"Update","SeqNumber":48,"Fields":{"BID":1.052}}
	// 300ms {"ID":3,"Type":"Update","SeqNumber":64,"Fields":{"BID":1.053}}
	// 400ms {"ID":3,"Type":"Update","SeqNumber":80,"Fields":{"BID":1.054}}
}
