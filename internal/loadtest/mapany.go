package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/emulator"
)

// mapClient is the reference client: what LSEG's Go example does per frame
// (read a fresh []byte, json.Unmarshal into []map[string]any, switch on
// "Type", answer Pings), over coder/websocket instead of gorilla.
type mapClient struct {
	c      *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *mapClient) close() {
	m.cancel()
	m.c.CloseNow()
	<-m.done
}

func (s *Session) dialMapAny(ctx context.Context, info emulator.Info, names []string, sem, subscribe chan struct{}) (interface{ close() }, error) {
	released := false
	release := func() {
		if !released {
			released = true
			<-sem
		}
	}
	defer release()
	tok, err := s.tokens.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: token: %w", err)
	}
	opts := &websocket.DialOptions{Subprotocols: []string{"tr_json2"}}
	if !s.cfg.Plain {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(info.CAPEM)
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	c, _, err := websocket.Dial(ctx, info.Endpoints[0].URL, opts)
	if err != nil {
		return nil, fmt.Errorf("loadtest: dial: %w", err)
	}
	c.SetReadLimit(16 << 20)
	release()
	select {
	case <-subscribe:
	case <-ctx.Done():
		c.CloseNow()
		return nil, ctx.Err()
	}
	login, _ := json.Marshal(map[string]any{"ID": 1, "Domain": "Login", "Key": map[string]any{
		"NameType": "AuthnToken", "Elements": map[string]any{"ApplicationId": "256", "Position": "127.0.0.1",
			"AuthenticationToken": tok.AccessToken}}})
	if err := c.Write(ctx, websocket.MessageText, login); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("loadtest: login: %w", err)
	}
	var req strings.Builder
	req.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			req.WriteByte(',')
		}
		req.WriteString(`{"ID":` + strconv.Itoa(i+2) + `,"Key":{"Name":` + strconv.Quote(n) + `}}`)
	}
	req.WriteByte(']')

	rctx, cancel := context.WithCancel(context.Background())
	mc := &mapClient{c: c, cancel: cancel, done: make(chan struct{})}
	ready := make(chan error, 1)
	var once sync.Once
	signal := func(err error) { once.Do(func() { ready <- err }) }
	go func() {
		defer close(mc.done)
		refreshes := 0
		for {
			_, data, err := c.Read(rctx)
			if err != nil {
				signal(err)
				return
			}
			var msgs []map[string]any
			if err := json.Unmarshal(data, &msgs); err != nil {
				signal(err)
				return
			}
			for _, m := range msgs {
				switch m["Type"] {
				case "Update":
					f, _ := m["Fields"].(map[string]any)
					// float64 holds Unix ns to within 256 ns.
					ns, ok := f[SendTimeField].(float64)
					s.update(len(data)/len(msgs), int64(ns), ok, 0)
				case "Refresh":
					if m["Domain"] == "Login" {
						if err := c.Write(rctx, websocket.MessageText, []byte(req.String())); err != nil {
							signal(err)
							return
						}
						continue
					}
					s.refreshes.Add(1)
					if refreshes++; refreshes == len(names) {
						signal(nil)
					}
				case "Status":
					// A Status on the Login or an item stream here means
					// refused or unknown: the run cannot proceed.
					signal(fmt.Errorf("loadtest: Status for stream %v: %v", m["ID"], m["State"]))
				case "Ping":
					if err := c.Write(rctx, websocket.MessageText, []byte(`{"Type":"Pong"}`)); err != nil {
						signal(err)
						return
					}
				}
			}
		}
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		mc.close()
		return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	return mc, nil
}
