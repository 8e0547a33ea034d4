package replay_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/record"
	"github.com/ertkit/ertkit/record/replay"
	"github.com/ertkit/ertkit/server"
)

// Serve a recording over the WebSocket API and stream it with the SDK.
func Example() {
	// A recording of one item (normally written by ert record).
	dir, _ := os.MkdirTemp("", "replay")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rec.ert.zst")
	w, err := record.Create(path, record.Options{Items: []string{"TRI.N"}})
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Now()
	w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0,
		Raw: []byte(`{"ID":2,"Type":"Refresh","Key":{"Name":"TRI.N"},"State":{"Stream":"Open","Data":"Ok"},"SeqNumber":16,"Fields":{"BID":171.2}}`)})
	w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0.Add(20 * time.Millisecond),
		Raw: []byte(`{"ID":2,"Type":"Update","UpdateType":"Quote","SeqNumber":32,"Fields":{"BID":171.25}}`)})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	rd, err := record.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer rd.Close()
	p, err := record.NewPlayer([]*record.Reader{rd}, record.PlayOptions{Speed: 1})
	if err != nil {
		log.Fatal(err)
	}
	src := replay.NewSource(p, replay.Options{Items: rd.Header().Items})
	hub, err := server.NewHub(server.Config{Source: src, ADSMode: true}) // Login by user name
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := server.NewServer(hub, "0", ln, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go src.Run(ctx) // plays once the first item is opened

	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{"ws://" + ln.Addr().String() + server.Path}, UserName: "me"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, []string{"TRI.N"}); err != nil {
		log.Fatal(err)
	}
	for m := range c.Messages() {
		bid, _ := m.Float("BID")
		fmt.Println(m.Type, m.SeqNumber, bid)
		if m.Type.String() == "Update" {
			break
		}
	}
	// Output:
	// Refresh 16 171.2
	// Update 32 171.25
}
