package emulator_test

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

// The spec's Market Maker (§33) and Yield Curve (§34) examples, requested
// as the spec does: MSFT.O in the MarketMaker domain, and BASIC in the
// YieldCurve domain from service ATS201_1.
func Example_marketMakerAndYieldCurve() {
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
	ep := info.Endpoints[0]
	c, err := consumer.Dial(ctx, consumer.Config{Endpoints: []string{fmt.Sprintf("%s:%d", ep.Host, ep.Port)},
		TokenSource: tokens, TLS: consumer.TLS{CAPEM: info.CAPEM}, Handler: func(*consumer.Msg) {}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	mm, err := c.Snapshot(ctx, []string{"MSFT.O"}, consumer.WithDomain(trjson.DomainMarketMaker))
	if err != nil {
		log.Fatal(err)
	}
	ctdl := mm[0].Book.Entries["CTDL"] // entries by market maker ID
	fmt.Println(mm[0].Name, len(mm[0].Book.Entries), "market makers;", string(ctdl["MKT_MKR_NM"].Str))

	yc, err := c.Snapshot(ctx, []string{"BASIC"}, consumer.WithDomain(trjson.DomainYieldCurve), consumer.WithService("ATS201_1"))
	if err != nil {
		log.Fatal(err)
	}
	curve := yc[0].Fields
	// CASH_RATES and YLD_CURVE are Vectors: raw JSON objects.
	fmt.Println(yc[0].Name, yc[0].Service, string(curve["CRV_TYPE"].Str), curve["YLD_CURVE"].Kind)
	// Output:
	// MSFT.O 25 market makers; CITADEL DERIVAT
	// BASIC ATS201_1 Swap Raw
}
