package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ertkit/ertkit/internal/loadtest"
)

type benchGatewayCmd struct {
	Clients  int           `name:"clients" default:"200" help:"Downstream WebSocket clients (1–2000)."`
	Items    int           `name:"items" default:"1000" help:"Items per client, the same for every client (1–100000)."`
	Rate     float64       `name:"rate" default:"0.25" help:"Upstream updates per second per item (downstream: rate × items × clients)."`
	Duration time.Duration `name:"duration" default:"10s" help:"Measured phase, after every client has every image (at most 10m)."`
	Pack     int           `name:"pack" default:"20" help:"Messages per downstream frame at most."`
	JSON     bool          `name:"json" help:"Print the result as one JSON object."`
	CPUProf  string        `name:"cpuprofile" type:"path" help:"Write a CPU profile of the whole run (emulator, gateway and clients share the process) to this file."`
}

func (c *benchGatewayCmd) run(ctx context.Context, env *Env) error {
	switch {
	case c.Clients < 1 || c.Clients > 2000:
		return usageError("--clients must be 1–2000")
	case c.Items < 1 || c.Items > 100000:
		return usageError("--items must be 1–100000")
	case c.Rate <= 0 || c.Rate > 1000:
		return usageError("--rate must be > 0 and ≤ 1000")
	case c.Duration <= 0 || c.Duration > 10*time.Minute:
		return usageError("--duration must be > 0 and ≤ 10m")
	}
	stop, err := startProfiles(c.CPUProf, "")
	if err != nil {
		return fail(ExitFailure, err, "profiling")
	}
	defer stop()
	env.Log.Warn("bench gateway: setting up", "clients", c.Clients, "items", c.Items)
	r, err := loadtest.RunGateway(ctx, loadtest.GatewayConfig{Clients: c.Clients, Items: c.Items, Rate: c.Rate, Duration: c.Duration, Pack: c.Pack})
	if err != nil {
		return fail(ExitFailure, err, "bench gateway")
	}
	if c.JSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	fmt.Fprint(env.Stdout, r.String())
	return nil
}
