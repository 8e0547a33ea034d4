package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"
)

type tokenCmd struct {
	connFlags
	ShowToken bool `name:"show-token" help:"Print the access token itself (it is a credential: keep it out of logs and terminals you share)."`
	JSON      bool `name:"json" help:"Print the metadata as one JSON object."`
}

func (c *tokenCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	start := time.Now()
	sess, tok, err := c.signIn(ctx, env)
	if err != nil {
		return err
	}
	defer sess.close()
	took := time.Since(start)
	shown := redactToken(tok.AccessToken)
	if c.ShowToken {
		shown = tok.AccessToken
	}
	refresh := "none"
	if tok.RefreshToken != "" {
		refresh = "present (redacted)"
	}
	if c.JSON {
		out := map[string]any{
			"token_url": redactURL(c.tokenURL()), "auth_version": tok.Version, "access_token": shown,
			"expires_in_seconds": int64(tok.ExpiresIn / time.Second), "expires_at": tok.ExpiresAt().UTC().Format(time.RFC3339),
			"refresh_token": refresh, "scope": tok.Scope, "obtained_in_ms": took.Milliseconds(),
		}
		b, _ := json.Marshal(out)
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "token endpoint\t%s\n", redactURL(c.tokenURL()))
	fmt.Fprintf(tw, "auth version\tv%d\n", tok.Version)
	fmt.Fprintf(tw, "access token\t%s\n", shown)
	fmt.Fprintf(tw, "expires in\t%s (at %s)\n", tok.ExpiresIn, tok.ExpiresAt().UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "refresh token\t%s\n", refresh)
	fmt.Fprintf(tw, "scope\t%s\n", tok.Scope)
	fmt.Fprintf(tw, "obtained in\t%s\n", took.Round(time.Millisecond))
	return tw.Flush()
}

// redactToken shows only the length and first 4 characters of a token:
// enough to tell two tokens apart, not enough to use one.
func redactToken(t string) string {
	if len(t) <= 8 {
		return "(redacted)"
	}
	return fmt.Sprintf("%s… (redacted, %d characters; --show-token to print)", t[:4], len(t))
}
