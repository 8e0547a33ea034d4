package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/ertkit/ertkit/emulator"
)

// defaultDemoRICs span equities, FX and an index.
var defaultDemoRICs = []string{"TRI.N", "IBM.N", "AAPL.O", "VOD.L", "EUR=", "JPY=", ".DJI"}

type demoCmd struct {
	outputFlags
	RICs []string `arg:"" optional:"" name:"RIC" help:"Items to stream (default: a few equities, FX rates and an index)."`
	Rate float64  `name:"rate" default:"2" help:"Updates per second per item."`
	V2   bool     `name:"v2" help:"Authenticate with v2 client credentials instead of the v1 password grant."`
}

func (c *demoCmd) run(ctx context.Context, env *Env) error {
	emuLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.Start(ctx, emulator.Config{Rate: c.Rate, RateSet: true, Logger: emuLog})
	if err != nil {
		return fail(ExitFailure, err, "starting the embedded emulator")
	}
	defer emu.Close()
	info := emu.Info()
	conn := connFlags{
		User: info.User, Password: info.Password, ClientID: info.ClientID,
		AuthURL: info.AuthURLV1, DiscoveryURL: info.DiscoveryURL, CAFile: info.CAFile,
		Region: "us-east-1", Service: "ELEKTRON_DD", AppID: "256", Scope: "trapi.streaming.pricing.read",
	}
	kind := "v1 password grant"
	if c.V2 {
		conn.User, conn.Password, conn.ClientSecret, conn.AuthURL = "", "", info.ClientSecret, info.AuthURLV2
		kind = "v2 client credentials"
	}
	rics := c.RICs
	if len(rics) == 0 {
		rics = defaultDemoRICs
	}
	out := c.outputFlags
	table := out.format(env) == "table"
	var store *boardStore
	say := func(s string) {
		if table {
			if store != nil {
				store.setNote(s)
			}
			return
		}
		fmt.Fprintf(env.Stderr, "ert demo: %s\n", s)
	}
	say(fmt.Sprintf("emulator started: token %s, discovery %s, %d streaming endpoints (TLS, CA %s)", info.AuthURLV1, info.DiscoveryURL, len(info.Endpoints), info.CAFile))
	say("flow: " + kind + " → service discovery → wss → Login → Refresh, then Updates")
	return runItems(ctx, env, itemRun{
		conn: &conn, items: &itemFlags{RICs: rics, Domain: "MarketPrice"}, out: &out,
		title:   "ert demo — embedded RTO emulator, " + kind + ", live over wss (tr_json2)",
		narrate: say,
	})
}
