package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/ertkit/ertkit/discovery"
)

type discoverCmd struct {
	connFlags
	All  bool `name:"all" help:"List the endpoints of every region, not only --region."`
	JSON bool `name:"json" help:"Print the endpoints as JSON."`
}

func (c *discoverCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	s, _, err := c.signIn(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	eps, err := s.discover(ctx)
	if err != nil {
		return err
	}
	sel, selErr := discovery.Select(eps, c.Region, false)
	standby, standbyErr := discovery.Select(eps, c.Region, true)
	role := func(e discovery.Endpoint) string {
		var r []string
		for i, p := range sel.Primary {
			if p.Address() == e.Address() && i == 0 {
				r = append(r, "primary")
			}
		}
		for i, b := range sel.Backups {
			if b.Address() == e.Address() {
				r = append(r, fmt.Sprintf("backup %d", i+1))
			}
		}
		if standbyErr == nil {
			for i, p := range standby.Primary {
				if p.Address() == e.Address() {
					r = append(r, fmt.Sprintf("hot standby %c", 'A'+i))
				}
			}
		}
		return strings.Join(r, ", ")
	}
	var shown []discovery.Endpoint
	for _, e := range eps {
		if c.All || (len(e.Locations) > 0 && strings.HasPrefix(e.Locations[0], c.Region)) {
			shown = append(shown, e)
		}
	}
	if c.JSON {
		b, _ := json.MarshalIndent(shown, "", "  ")
		fmt.Fprintf(env.Stdout, "%s\n", b)
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENDPOINT\tPORT\tLOCATIONS\tPROVIDER\tROLE (region "+c.Region+")")
		for _, e := range shown {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", e.Host, e.Port, strings.Join(e.Locations, ","), e.Provider, role(e))
		}
		tw.Flush()
	}
	if selErr != nil && len(shown) == 0 {
		return fail(ExitDiscovery, selErr, "no endpoint for region %q (%d endpoints in other regions; try --all)", c.Region, len(eps))
	}
	if standbyErr != nil {
		env.Log.Info("hot standby not possible in this region", "reason", standbyErr)
	}
	return nil
}
