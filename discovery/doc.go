// Package discovery finds LSEG Real-Time -- Optimized WebSocket endpoints
// through the Delivery Platform's service discovery and chooses among them
// the way LSEG documents it.
//
//	eps, err := discovery.Discover(ctx, "", tok.AccessToken, discovery.Options{})
//	sel, err := discovery.Select(eps, "us-east-1", false)
//	// connect to sel.Primary[0].Address(); keep sel.Backups for failover
//
// A 401 from discovery (errors.Is(err, ErrUnauthorized)) means the token is
// no longer accepted: get a fresh token once and call Discover again. Redo
// discovery after repeated reconnect failures. An explicit host:port
// ([ParseEndpoint]) skips discovery altogether.
package discovery
