package consumer

import (
	"context"

	"github.com/ertkit/ertkit/discovery"
)

// Discovery returns a Config.Discover function that runs LSEG service
// discovery at url with the source's current token and selects endpoints
// for region as LSEG's examples do (hot-standby pairs first when
// hotStandby), followed by the backups in order.
func Discovery(url string, ts TokenSource, region string, hotStandby bool, opts discovery.Options) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		tok, err := ts.Token(ctx)
		if err != nil {
			return nil, &TokenError{Err: err}
		}
		eps, err := discovery.Discover(ctx, url, tok.AccessToken, opts)
		if err != nil {
			return nil, err
		}
		sel, err := discovery.Select(eps, region, hotStandby)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range append(sel.Primary, sel.Backups...) {
			out = append(out, e.Address())
		}
		return out, nil
	}
}
