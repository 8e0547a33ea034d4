package consumer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/trjson"
)

// setup starts an in-process emulator and a token manager for its v2
// service account; the caller defers the returned stop.
func setup(ctx context.Context) (emulator.Info, *auth.Manager, func()) {
	emu, err := emulator.Start(ctx, emulator.Config{})
	if err != nil {
		log.Fatal(err)
	}
	info := emu.Info()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CAPEM)
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	}), auth.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	return info, tokens, func() { tokens.Close(); emu.Close() }
}

func endpoints(info emulator.Info) []string {
	var eps []string
	for _, e := range info.Endpoints {
		eps = append(eps, fmt.Sprintf("%s:%d", e.Host, e.Port))
	}
	return eps
}

// Stream one RIC with a view and read messages from the channel.
func Example_stream() {
	ctx := context.Background()
	info, tokens, stop := setup(ctx)
	defer stop()

	c, err := consumer.Dial(ctx, consumer.Config{
		Endpoints:   endpoints(info),
		TokenSource: tokens,
		TLS:         consumer.TLS{CAPEM: info.CAPEM}, // trust the emulator's CA
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Subscribe(ctx, []string{"TRI.N"}, consumer.WithView("BID", "ASK")); err != nil {
		log.Fatal(err)
	}
	for m := range c.Messages() {
		_, hasBid := m.Float("BID")
		st := m.Item.State() // the item's visible state
		fmt.Println(m.Type, m.Name, st.Stream, st.Data, hasBid)
		if m.Type == trjson.TypeUpdate {
			break
		}
	}
	// Output:
	// Refresh TRI.N Open Ok true
	// Update TRI.N Open Ok true
}

// Snapshot several RICs at once (one batch request); unknown RICs come
// back Closed with the server's text.
func Example_snapshot() {
	ctx := context.Background()
	info, tokens, stop := setup(ctx)
	defer stop()
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: endpoints(info), TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: func(*consumer.Msg) {}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	imgs, err := c.Snapshot(ctx, []string{"IBM.N", "JPM.N", "NO.SUCH.RIC"})
	if err != nil {
		log.Fatal(err)
	}
	for _, img := range imgs {
		_, ok := img.Fields["DSPLY_NAME"]
		fmt.Println(img.Name, img.State.Stream, ok)
	}
	// Output:
	// IBM.N NonStreaming true
	// JPM.N NonStreaming true
	// NO.SUCH.RIC Closed false
}

// Hot standby: two connections to the two single-location endpoints with
// the same items; each message is delivered once.
func Example_hotStandby() {
	ctx := context.Background()
	info, tokens, stop := setup(ctx)
	defer stop()
	eps := endpoints(info)
	c, err := consumer.Dial(ctx, consumer.Config{
		Endpoints:   []string{eps[1], eps[2], eps[0]}, // the pair, then a backup
		HotStandby:  true,
		TokenSource: tokens,
		TLS:         consumer.TLS{CAPEM: info.CAPEM},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, []string{"KO.N"})
	if err != nil {
		log.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	up := 0
	for _, cs := range c.Stats().Conns {
		if cs.State == consumer.ConnLoggedIn {
			up++
		}
	}
	m := <-c.Messages()
	fmt.Println("connections:", up)
	fmt.Println(m.Type, m.Name, sub.Item().State().Data)
	// Output:
	// connections: 2
	// Refresh KO.N Ok
}

// Post a contribution off-stream and wait for its Ack.
func Example_post() {
	ctx := context.Background()
	info, tokens, stop := setup(ctx)
	defer stop()
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: endpoints(info), TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: func(*consumer.Msg) {}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Post(ctx, consumer.Post{Name: "TRI.N", Fields: []trjson.Field{trjson.Float("BID", 170.5)}})
	fmt.Println("post:", err)
	// Output:
	// post: <nil>
}
