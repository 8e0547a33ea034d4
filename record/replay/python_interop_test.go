package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/record"
	"github.com/ertkit/ertkit/server"
)

// TestLSEGStyleClient streams a replayed item with a Python client written
// as LSEG's market_price.py talks to an ADS (websocket-client, Login by
// name): it gets the recorded Refresh and Updates with their SeqNumbers
// and values. Runs when /usr/bin/python3 has websocket-client (Debian
// python3-websocket, which CI installs); skipped otherwise.
func TestLSEGStyleClient(t *testing.T) {
	const py = "/usr/bin/python3"
	if exec.Command(py, "-c", "import websocket").Run() != nil {
		t.Skip(py + " with websocket-client not installed")
	}
	path := filepath.Join(t.TempDir(), "r.ert.zst")
	w, err := record.Create(path, record.Options{Items: []string{"TRI.N"}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0,
		Raw: []byte(`{"ID":5,"Type":"Refresh","Key":{"Name":"TRI.N"},"State":{"Stream":"Open","Data":"Ok"},"SeqNumber":10,"Fields":{"BID":50.5,"ASK":50.6}}`)})
	for i := 1; i <= 3; i++ {
		w.Handle(&consumer.Msg{Name: "TRI.N", Received: t0.Add(time.Duration(i) * 10 * time.Millisecond),
			Raw: fmt.Appendf(nil, `{"ID":5,"Type":"Update","UpdateType":"Quote","SeqNumber":%d,"Fields":{"BID":50.%d}}`, 10+16*i, 5+i)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := record.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p, err := record.NewPlayer([]*record.Reader{rd}, record.PlayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p, Options{Items: rd.Header().Items})
	hub, err := server.NewHub(server.Config{Source: src, ADSMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(hub, "0", ln, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- src.Run(ctx) }()

	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "market_price_ads.py"), "--port", port, "--ric", "TRI.N", "--updates", "3")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s\n%s", err, out, stderr.String())
	}
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	type line struct {
		Type      string
		SeqNumber int64
		BID       float64
	}
	want := []line{{"Refresh", 10, 50.5}, {"Update", 26, 50.6}, {"Update", 42, 50.7}, {"Update", 58, 50.8}}
	var got []line
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", sc.Bytes(), err)
		}
		got = append(got, l)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("python client got %v, want %v", got, want)
	}
}
