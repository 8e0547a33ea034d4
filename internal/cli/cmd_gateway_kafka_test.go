package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/internal/testutil"
)

// ert gateway --kafka-brokers: what the gateway receives upstream also
// goes to Kafka, and is flushed when the gateway stops.
func TestGatewayToKafka(t *testing.T) {
	emu := testutil.StartEmulator(t, emulator.Config{PlainWS: true, Rate: 20, RateSet: true})
	info := emu.Info()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gctx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	vars := map[string]string{"ERT_CLIENTID": info.ClientID, "ERT_CLIENTSECRET": info.ClientSecret, "ERT_AUTH_URL": info.AuthURLV2}
	var errb strings.Builder
	env := Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb, Getenv: func(k string) string { return vars[k] },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ep := info.Endpoints[0]
	done := make(chan int, 1)
	go func() {
		done <- Main(gctx, []string{"gateway", "--ws", "--hostname", ep.Host, "--port", strconv.Itoa(ep.Port), "--listen", "127.0.0.1:0",
			"--kafka-brokers", kc.ListenAddrs()[0], "--kafka-topic-prefix", "gw", "--kafka-create-topics"}, env)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v; stderr %s", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	var ready struct{ WS string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatal(err)
	}
	conn, _, _, err := ws.Dialer{Protocols: []string{"tr_json2"}}.Dial(ctx, ready.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wsutil.WriteClientText(conn, []byte(`{"ID":1,"Domain":"Login","Key":{"Name":"k"}}`))
	wsutil.WriteClientText(conn, []byte(`{"ID":2,"Key":{"Name":"TRI.N"}}`))
	downstream := 0
	for downstream < 5 {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := wsutil.ReadServerText(conn)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []map[string]any
		json.Unmarshal(p, &msgs)
		for _, m := range msgs {
			if m["ID"] == 2.0 && (m["Type"] == "Refresh" || m["Type"] == "Update") {
				downstream++
			}
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("gateway exit %d: %s", code, errb.String())
	}
	awaitTicks(t, ctx, kc.ListenAddrs(), "gw", downstream, "messages seen downstream", func(r *kgo.Record) bool {
		return string(r.Key) == "ELEKTRON_DD|TRI.N"
	})
}
