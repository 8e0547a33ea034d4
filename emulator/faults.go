package emulator

import (
	"errors"
	"fmt"
	"time"

	"github.com/ertkit/ertkit/emulator/internal/gateway"
	"github.com/ertkit/ertkit/server"
)

// Fault injection. Every fault is also reachable through the admin API
// (see admin.go). Endpoint indexes are those of Info.Endpoints; -1 means
// every endpoint where a method says so.

// ErrNoEndpoint is returned for an endpoint index out of range.
var ErrNoEndpoint = errors.New("emulator: no such endpoint")

// ErrNoConnection is returned by DropConnection for an unknown connection.
var ErrNoConnection = server.ErrNoConn

// ErrNoItem is returned by ItemStatus when nobody watches the item.
var ErrNoItem = server.ErrUnknownItem

// StallMode selects what Stall stops on a connection.
type StallMode string

// Stall modes.
const (
	StallRead  StallMode = "read"  // stop reading (requests, Pongs pile up)
	StallWrite StallMode = "write" // stop writing (nothing reaches the client)
	StallBoth  StallMode = "both"
)

// ItemFault is an item state change for ItemStatus.
type ItemFault string

// Item faults.
const (
	// ItemClosed sends Status Closed/Suspect and forgets the streams.
	ItemClosed ItemFault = "Closed"
	// ItemClosedRecover sends Status ClosedRecover/Suspect and forgets them.
	ItemClosedRecover ItemFault = "ClosedRecover"
	// ItemSuspect sends Status Open/Suspect, holds updates, and after the
	// recovery delay sends an unsolicited Refresh Open/Ok (SingleOpen
	// behaviour).
	ItemSuspect ItemFault = "Suspect"
	// ItemRedirected sends Status Redirected/Suspect whose Key names
	// ItemStatusOptions.RedirectTo (where to re-request), and forgets the
	// streams. Use it with ItemStatusWith.
	ItemRedirected ItemFault = "Redirected"
)

// ItemStatusOptions qualify an item fault.
type ItemStatusOptions struct {
	// RecoverAfter is how long ItemSuspect lasts. Default 1 s.
	RecoverAfter time.Duration
	// RedirectTo is the item name ItemRedirected points to. Required for
	// ItemRedirected.
	RedirectTo string
}

// GatewayEndpoint names a Delivery Platform endpoint for gateway faults:
// "token_v1" (also beta1), "token_v2", "discovery".
type GatewayEndpoint string

func (e *Emulator) pick(i int) ([]*server.Server, error) {
	if i < 0 {
		return e.servers, nil
	}
	if i >= len(e.servers) {
		return nil, fmt.Errorf("%w: %d", ErrNoEndpoint, i)
	}
	return e.servers[i : i+1], nil
}

// KillEndpoint drops every connection of endpoint i (-1: all) and refuses
// new ones for d (connections are accepted and closed at once, before the
// TLS handshake). It returns the number of connections dropped.
func (e *Emulator) KillEndpoint(i int, d time.Duration) (int, error) {
	ss, err := e.pick(i)
	n := 0
	for _, s := range ss {
		n += s.Kill(d)
	}
	return n, err
}

// DropConnections drops every connection of endpoint i (-1: all)
// abruptly, without a close frame.
func (e *Emulator) DropConnections(i int) (int, error) {
	ss, err := e.pick(i)
	n := 0
	for _, s := range ss {
		n += s.DropAll()
	}
	return n, err
}

// DropConnection drops connection id (see Connections) of endpoint i.
func (e *Emulator) DropConnection(i int, id uint64) error {
	ss, err := e.pick(i)
	if err != nil {
		return err
	}
	if i < 0 {
		return fmt.Errorf("%w: DropConnection needs one endpoint", ErrNoEndpoint)
	}
	return ss[0].DropConn(id)
}

// Stall stops reading and/or writing for d on every current connection of
// endpoint i (-1: all). A read stall starts after the read in progress.
func (e *Emulator) Stall(i int, mode StallMode, d time.Duration) (int, error) {
	switch mode {
	case StallRead, StallWrite, StallBoth:
	default:
		return 0, fmt.Errorf("%w: stall mode %q", ErrConfig, mode)
	}
	ss, err := e.pick(i)
	n := 0
	for _, s := range ss {
		n += s.Stall(server.StallMode(mode), d)
	}
	return n, err
}

// DelayOutbound delays every outbound frame of endpoint i (-1: all) by d,
// on current and future connections; 0 ends the fault.
func (e *Emulator) DelayOutbound(i int, d time.Duration) error {
	ss, err := e.pick(i)
	for _, s := range ss {
		s.Delay(d)
	}
	return err
}

// InjectFrame sends data as one raw text frame to every connection of
// endpoint i (-1: all endpoints), after what is already queued: a
// malformed or oversize frame, or any message a test wants a client to
// receive verbatim. It returns the number of connections it reached.
func (e *Emulator) InjectFrame(i int, data []byte) (int, error) {
	ss, err := e.pick(i)
	n := 0
	for _, s := range ss {
		n += s.InjectFrame(data)
	}
	return n, err
}

// ItemStatus injects a state change on every open stream of the item
// name ("TRI.N" covers its delayed twin "/TRI.N" too; "" = every open
// item). recoverAfter applies to ItemSuspect (default 1 s). It returns
// the number of streams affected.
func (e *Emulator) ItemStatus(name string, f ItemFault, recoverAfter time.Duration) (int, error) {
	return e.ItemStatusWith(name, f, ItemStatusOptions{RecoverAfter: recoverAfter})
}

// ItemStatusWith is ItemStatus with every option; ItemRedirected needs
// o.RedirectTo (else an error matching ErrConfig). Load-mode streams are
// affected too.
func (e *Emulator) ItemStatusWith(name string, f ItemFault, o ItemStatusOptions) (int, error) {
	n, err := e.hub.ItemStatusWith(name, server.ItemFault(f), server.FaultOptions{RecoverAfter: o.RecoverAfter, RedirectTo: o.RedirectTo})
	if errors.Is(err, server.ErrConfig) {
		err = fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return n, err
}

// RevokeTokens revokes every live token (the gateway refuses their
// refresh tokens too); sessions using them get a Login Status Closed with
// reason and are disconnected.
func (e *Emulator) RevokeTokens(reason string) int {
	if reason == "" {
		reason = "Token revoked by the emulator (fault)."
	}
	return e.store.RevokeAll(reason)
}

// ExpireTokens makes every live access token expire now.
func (e *Emulator) ExpireTokens() int { return e.store.ExpireAll() }

// RefuseLogins makes the next k Logins fail with "Login rejected. Already
// pending login." and a disconnect.
func (e *Emulator) RefuseLogins(k int) { e.hub.RefuseLogins(k) }

// SetPings switches the endpoints' Pings on or off.
func (e *Emulator) SetPings(send bool) { e.hub.SetPings(send) }

// SetIgnorePongs makes the endpoints ignore Pongs (a client that only
// answers Pings then times out).
func (e *Emulator) SetIgnorePongs(ignore bool) { e.hub.SetIgnorePongs(ignore) }

// GatewayStatus answers the next count requests of a gateway endpoint
// with an HTTP status (redirect statuses redirect to the same URL).
func (e *Emulator) GatewayStatus(ep GatewayEndpoint, status, count int) error {
	return e.gw.ForceStatus(gateway.Endpoint(ep), status, count)
}

// ShortenRefresh gives the next count refresh grants a lifetime of d.
func (e *Emulator) ShortenRefresh(d time.Duration, count int) error {
	return e.gw.ShortenRefresh(d, count)
}

// RejectRefresh refuses the next count refresh grants (400 invalid_grant).
func (e *Emulator) RejectRefresh(count int) error { return e.gw.RejectRefresh(count) }

// ClearGatewayFaults removes pending gateway faults.
func (e *Emulator) ClearGatewayFaults() { e.gw.ClearFaults() }

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (e *Emulator) SetTokenLifetime(d time.Duration) { e.gw.SetTokenLifetime(d) }
