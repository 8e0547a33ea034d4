package server

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate: negotiated when offered; frames carry RSV1 and
// inflate to tr_json2 arrays; compressed client frames are understood.
func TestPermessageDeflate(t *testing.T) {
	e := newEnv(t, Config{Rate: 50}, 1, true)
	d := ws.Dialer{Protocols: []string{"tr_json2"}, TLSConfig: e.tls, Timeout: 5 * time.Second,
		Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}}
	nc, br, hs, err := d.Dial(context.Background(), e.url(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != "permessage-deflate" {
		t.Fatalf("extensions %v", hs.Extensions)
	}
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	send := func(s string) {
		f, err := wsflate.CompressFrame(ws.NewTextFrame([]byte(s)))
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteFrame(nc, ws.MaskFrameInPlace(f)); err != nil {
			t.Fatal(err)
		}
	}
	next := func() []map[string]any {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(r)
		if err != nil || h.Length > 1<<20 {
			t.Fatal(err, h.Length)
		}
		f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
		if _, err := io.ReadFull(r, f.Payload); err != nil {
			t.Fatal(err)
		}
		if !f.Header.Rsv1() {
			t.Fatalf("uncompressed frame %q", f.Payload)
		}
		f, err = wsflate.DecompressFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		var arr []map[string]any
		if err := json.Unmarshal(f.Payload, &arr); err != nil {
			t.Fatalf("%v: %s", err, f.Payload)
		}
		return arr
	}
	send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + e.token(1, time.Minute) + `"}}}`)
	if m := next()[0]; m["Type"] != "Refresh" {
		t.Fatalf("login %v", m)
	}
	send(`{"ID":2,"Key":{"Name":"TRI.N"},"Extra":"` + strings.Repeat("x", 100) + `"}`)
	if m := next()[0]; m["Type"] != "Refresh" || m["ID"] != 2.0 {
		t.Fatalf("refresh %v", m)
	}
	for range 3 {
		if m := next()[0]; m["Type"] != "Update" {
			t.Fatalf("update %v", m)
		}
	}
}

// A compressed message that inflates beyond MaxMsgSize is refused like a
// plain one (close 1009).
func TestDeflateBomb(t *testing.T) {
	e := newEnv(t, Config{MaxMsgSize: 4096}, 1, false)
	d := ws.Dialer{Protocols: []string{"tr_json2"}, Timeout: 5 * time.Second,
		Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}}
	nc, br, _, err := d.Dial(context.Background(), e.url(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f, _ := wsflate.CompressFrame(ws.NewTextFrame([]byte(`{"ID":2,"Key":{"Name":"` + strings.Repeat("A", 100000) + `"}}`)))
	if f.Header.Length > 4096 {
		t.Fatal("test frame does not compress")
	}
	ws.WriteFrame(nc, ws.MaskFrameInPlace(f))
	c := &client{t: t, nc: nc, r: nc}
	if br != nil {
		c.r = br
	}
	if code := c.expectClosed(); code != ws.StatusMessageTooBig {
		t.Fatalf("code %d", code)
	}
}
