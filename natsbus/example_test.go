package natsbus_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/natsbus"
	"github.com/ertkit/ertkit/trjson"
)

// A RIC becomes one subject token, and back.
func ExampleEncode() {
	for _, ric := range []string{"EUR=", "0#.FTSE", "/TRI.N", ".DJI"} {
		tok, _ := natsbus.Encode(ric)
		back, _ := natsbus.Decode(tok)
		fmt.Println(ric, tok, back == ric)
	}
	// Output:
	// EUR= EUR= true
	// 0#.FTSE 0_23_2EFTSE true
	// /TRI.N /TRI_2EN true
	// .DJI _2EDJI true
}

// The whole path: an in-process emulator, the SDK with a Publisher as its
// Handler, an embedded JetStream server, and a Subscriber that gets the
// item's image and then its updates.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	emu, err := emulator.Start(ctx, emulator.Config{Rate: 20, RateSet: true})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	info := emu.Info()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CAPEM)
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
	}), auth.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	defer tokens.Close()

	srv, err := natsbus.StartServer(ctx, natsbus.ServerConfig{}) // 127.0.0.1, random port, temp store
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	nc, err := natsbus.Connect(ctx, srv.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	pub, err := natsbus.NewPublisher(ctx, natsbus.PublisherConfig{Conn: nc})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close(ctx)
	var eps []string
	for _, e := range info.Endpoints {
		eps = append(eps, fmt.Sprintf("%s:%d", e.Host, e.Port))
	}
	client, err := consumer.Dial(ctx, consumer.Config{Endpoints: eps, TokenSource: tokens,
		TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: pub.Handle})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sub, err := client.Subscribe(ctx, []string{"TRI.N"})
	if err != nil {
		log.Fatal(err)
	}
	if err := sub.Wait(ctx); err != nil { // the Refresh is in
		log.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil { // and published, image included
		log.Fatal(err)
	}

	got := make(chan string, 16)
	s, err := natsbus.Subscribe(ctx, natsbus.SubscriberConfig{Conn: nc,
		Handler: func(m *consumer.Msg) {
			line := fmt.Sprint(m.Type, " ", m.Name, " SeqNumber:", m.HasSeq)
			if m.Type == trjson.TypeRefresh { // the image holds every field
				_, bid := m.Float("BID")
				line += fmt.Sprint(" BID:", bid)
			}
			select {
			case got <- line:
			default:
			}
		},
		OnEvent: func(e natsbus.Event) { fmt.Println("event:", e) },
	}, []natsbus.Key{{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketPrice, Name: "TRI.N"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(<-got) // the image
	fmt.Println(<-got) // a live update
	// Output:
	// Refresh TRI.N SeqNumber:true BID:true
	// Update TRI.N SeqNumber:true
}
