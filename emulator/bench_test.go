package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/ertkit/ertkit/emulator"
)

// BenchmarkEmulatorUpdates measures how many Market Price updates per
// second one emulator endpoint delivers to one client over TLS (wss) in
// load mode (Rate 0: as fast as the client drains). The client is a
// minimal gobwas reader that only counts messages, so the figure is the
// emulator's send capacity (encode + frame + TLS + write) on this machine.
func BenchmarkEmulatorUpdates(b *testing.B) {
	for _, pack := range []int{50, 1} {
		b.Run(fmt.Sprintf("tls/pack%d", pack), func(b *testing.B) { benchUpdates(b, pack, false) })
	}
	b.Run("plain/pack50", func(b *testing.B) { benchUpdates(b, 50, true) })
}

func benchUpdates(b *testing.B, pack int, plain bool) {
	emu, hc := start(b, emulator.Config{RateSet: true, Rate: 0, Pack: pack, PlainWS: plain})
	tok := v2Token(b, emu, hc)
	d := ws.Dialer{Protocols: []string{"tr_json2"}, Timeout: 10 * time.Second}
	if !plain {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(emu.Info().CAPEM)
		d.TLSConfig = &tls.Config{RootCAs: pool}
	}
	nc, br, _, err := d.Dial(context.Background(), emu.Info().Endpoints[0].URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	r = bufio.NewReaderSize(r, 256<<10)
	send := func(s string) {
		if err := wsutil.WriteClientText(nc, []byte(s)); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	read := func() []byte {
		h, err := ws.ReadHeader(r)
		if err != nil {
			b.Fatal(err)
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		buf = buf[:h.Length]
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
		return buf
	}
	send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"127.0.0.1","AuthenticationToken":"` + tok + `"}}}`)
	read()
	var req []string
	for i, n := range []string{"TRI.N", "IBM.N", "VOD.L", "EUR=", "AAPL.O", "MSFT.O", "JPY=", "GBP=", "BARC.L", "T.N"} {
		req = append(req, fmt.Sprintf(`{"ID":%d,"Key":{"Name":%q}}`, i+2, n))
	}
	send("[" + strings.Join(req, ",") + "]")
	update := []byte(`"Type":"Update"`)
	// Wait for the first updates (refreshes and Statuses come first).
	for bytes.Count(read(), update) == 0 {
	}
	b.ResetTimer()
	var bytesIn int64
	for n := 0; n < b.N; {
		f := read()
		bytesIn += int64(len(f))
		c := bytes.Count(f, update)
		if c == 0 && bytes.Contains(f, []byte(`"Ping"`)) {
			send(`{"Type":"Pong"}`)
		}
		n += c
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "updates/s")
	b.ReportMetric(float64(bytesIn)/float64(b.N), "B/update")
}
