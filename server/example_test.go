package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

// quotes is a Source with one fixed item: it publishes an image when
// asked and refuses every other name.
type quotes struct{}

func (quotes) Open(it *server.Item) error {
	if it.Name() != "ACME.N" {
		return fmt.Errorf("no %s here: %w", it.Name(), server.ErrNotFound)
	}
	// Publishing may happen later, from any goroutine.
	go it.Refresh(server.Image{Fields: []trjson.Field{trjson.Float("BID", 41.5), trjson.Float("ASK", 41.75)}, SeqNumber: 1, HasSeq: true})
	return nil
}

func (quotes) Close(*server.Item) {}

// Serve your own data over the WebSocket API: any tr_json2 client (LSEG's
// examples, the ertkit SDK, ert stream --ws) logs in by name and streams it.
func Example_source() {
	hub, err := server.NewHub(server.Config{Source: quotes{}, ADSMode: true})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := server.NewServer(hub, "0", ln, nil) // ws://; pass a *tls.Config for wss://
	defer srv.Close()

	// A client, as LSEG's ADS examples talk.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dialer{Protocols: []string{"tr_json2"}}.Dial(ctx, "ws://"+ln.Addr().String()+server.Path)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	wsutil.WriteClientText(conn, []byte(`{"ID":1,"Domain":"Login","Key":{"Name":"me"}}`))
	wsutil.WriteClientText(conn, []byte(`[{"ID":2,"Key":{"Name":"ACME.N"}},{"ID":3,"Key":{"Name":"NOPE.N"}}]`))
	for seen := 0; seen < 3; {
		frame, err := wsutil.ReadServerText(conn)
		if err != nil {
			log.Fatal(err)
		}
		var msgs []struct {
			Type   string
			ID     int
			State  struct{ Stream, Data, Code string }
			Fields map[string]any
		}
		json.Unmarshal(frame, &msgs)
		for _, m := range msgs {
			seen++
			fmt.Println(m.ID, m.Type, m.State.Stream, m.State.Data, m.State.Code, m.Fields["BID"])
		}
	}
	// Unordered output:
	// 1 Refresh Open Ok  <nil>
	// 2 Refresh Open Ok  41.5
	// 3 Status Closed Suspect NotFound <nil>
}
