package cli

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ertkit/ertkit/internal/soak"
)

// soakCmd runs the bounded soak test (docs/RELIABILITY.md): an embedded
// emulator, the SDK at a fixed update rate, short tokens and a random
// fault at every interval; progress on stderr, the JSON report on stdout.
type soakCmd struct {
	Duration      time.Duration `name:"duration" default:"30m" help:"Length of the run."`
	Rate          float64       `name:"rate" default:"100000" help:"Total updates per second across all items."`
	TokenLifetime time.Duration `name:"token-lifetime" default:"30s" help:"Access token lifetime (v1 renewals and Login reissues)."`
	FaultEvery    time.Duration `name:"fault-every" default:"1m" help:"Interval between random faults (negative: none)."`
	SampleEvery   time.Duration `name:"sample-every" default:"10s" help:"Interval between resource samples."`
	Faults        []string      `name:"fault" help:"Fault to draw from (repeatable; default: all recoverable faults)."`
	Seed          int64         `name:"seed" default:"1" help:"Seed of the fault sequence."`
}

func (c *soakCmd) run(ctx context.Context, env *Env) error {
	rep, err := soak.Run(ctx, soak.Config{Duration: c.Duration, Rate: c.Rate, TokenLifetime: c.TokenLifetime,
		FaultEvery: c.FaultEvery, SampleEvery: c.SampleEvery, Faults: c.Faults, Seed: c.Seed,
		Progress: env.Stderr, Logger: env.Log})
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if rep.Items > 0 {
		if jerr := enc.Encode(rep); jerr != nil && err == nil {
			err = jerr
		}
	}
	if errors.Is(err, soak.ErrFailed) {
		return fail(ExitFailure, err, "soak")
	}
	return err
}
