// Package auth obtains and renews access tokens for LSEG Real-Time --
// Optimized from the LSEG Delivery Platform (LDP) OAuth2 gateway.
//
// Pick the [Grant] that matches the account, wrap it in one [Manager] per
// credential, and share that Manager among every connection of the process:
//
//	m := auth.NewManager(auth.PasswordGrant(auth.PasswordConfig{...}), auth.Options{})
//	defer m.Close()
//	go m.Run(ctx)            // v1: proactive renewal
//	tok, err := m.Token(ctx) // the token for a Login
//
// Renewal follows LSEG's documented policy for each version:
//
//   - v1 (machine accounts, password grant): renewed proactively with the
//     refresh_token grant at RenewFraction of expires_in; a rejected refresh
//     (400/401) falls back to the password grant, and so does a refresh whose
//     expires_in differs from the password grant's (LSEG reads a shortened
//     lifetime as "the refresh token is about to end"). Every renewed token is
//     announced to [Manager.Subscribe] callbacks, which reissue the Login
//     (Refresh:false, same stream ID) on every live connection.
//   - v2 (service accounts, client_credentials with a secret or a JWT
//     assertion): no refresh token and no proactive renewal; a token is
//     fetched when a connection needs one ([Manager.Token] when it is no
//     longer "usable", [Manager.Fresh] on the first reconnect attempt), and
//     logins are not reissued.
//
// All calls verify TLS, follow redirects only to https on the same or an
// allow-listed host (at most 3 hops), retry 5xx/429 with bounded exponential
// back-off and full jitter, stop on 403/404/410/451, and are paced under the
// gateway's guard (50 per minute per credential by default). Tokens,
// passwords, secrets and assertions never appear in logs or errors.
package auth
