package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/gateway"
)

// One upstream session (here the emulator; in production RTO) served to
// downstream clients over ws://; a downstream SDK client logs in by name.
func Example() {
	ctx := context.Background()
	emu, err := emulator.Start(ctx, emulator.Config{})
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

	g, err := gateway.Start(ctx, gateway.Config{Upstream: consumer.Config{
		Endpoints:   []string{fmt.Sprintf("%s:%d", info.Endpoints[0].Host, info.Endpoints[0].Port)},
		TokenSource: tokens,
		TLS:         consumer.TLS{CAPEM: info.CAPEM},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	g.Serve(ln, nil)

	// Downstream: any tr_json2 client; here the SDK, logging in by name.
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{"ws://" + ln.Addr().String() + "/WebSocket"}, UserName: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	imgs, err := c.Snapshot(ctx, []string{"TRI.N", "NO-SUCH.RIC"})
	if err != nil {
		log.Fatal(err)
	}
	for _, im := range imgs {
		_, hasBid := im.Fields["BID"]
		fmt.Println(im.Name, im.State.Stream, im.State.Data, hasBid)
	}
	// Output:
	// TRI.N NonStreaming Ok true
	// NO-SUCH.RIC Closed Suspect false
}
