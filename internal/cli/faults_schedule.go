package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// scheduledFault is one entry of an `ert emulator --faults` file: after a
// delay from start, one call of the admin API POST /admin/faults/<fault>
// with args as its JSON body.
type scheduledFault struct {
	After time.Duration   `json:"-"`
	Fault string          `json:"fault"`
	Args  json.RawMessage `json:"args"`
}

var knownFaults = []string{"kill", "drop", "stall", "delay", "inject", "item", "tokens", "refuse-logins", "pings", "gateway"}

func loadFaultSchedule(path string) ([]scheduledFault, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--faults: %w", err)
	}
	var raw []struct {
		After string          `json:"after"`
		Fault string          `json:"fault"`
		Args  json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("--faults %s: want a JSON array of {\"after\",\"fault\",\"args\"}: %w", path, err)
	}
	out := make([]scheduledFault, 0, len(raw))
	for i, r := range raw {
		d, err := time.ParseDuration(r.After)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--faults %s: entry %d: \"after\" %q is not a duration like 30s", path, i, r.After)
		}
		ok := false
		for _, k := range knownFaults {
			ok = ok || k == r.Fault
		}
		if !ok {
			return nil, fmt.Errorf("--faults %s: entry %d: unknown fault %q (one of %s)", path, i, r.Fault, strings.Join(knownFaults, ", "))
		}
		if len(r.Args) == 0 {
			r.Args = json.RawMessage("{}")
		}
		out = append(out, scheduledFault{After: d, Fault: r.Fault, Args: r.Args})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].After < out[j].After })
	return out, nil
}

// runFaultSchedule applies each fault at its time through the admin API,
// the same path a test harness or an operator uses at run time.
func runFaultSchedule(ctx context.Context, env *Env, info emulator.Info, faults []scheduledFault) {
	client := &http.Client{Timeout: 10 * time.Second}
	if len(info.CAPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(info.CAPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	start := time.Now()
	for _, f := range faults {
		t := time.NewTimer(time.Until(start.Add(f.After)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		url := strings.TrimSuffix(info.AdminURL, "/") + "/faults/" + f.Fault
		resp, err := client.Post(url, "application/json", bytes.NewReader(f.Args))
		if err != nil {
			env.Log.Error("scheduled fault failed", "fault", f.Fault, "err", err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			env.Log.Error("scheduled fault refused", "fault", f.Fault, "status", resp.StatusCode, "body", strings.TrimSpace(string(body)))
			continue
		}
		env.Log.Warn("fault applied", "fault", f.Fault, "args", string(f.Args), "result", strings.TrimSpace(string(body)))
	}
}
