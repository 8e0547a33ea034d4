package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Credentials come from flags, environment variables or a config file, in
// that order of precedence. None of them has to be typed on a command line.

// envNames maps credential fields to their environment variables.
var envNames = map[string]string{
	"user":          "ERT_USER",
	"password":      "ERT_PASSWORD",
	"clientid":      "ERT_CLIENTID",
	"clientsecret":  "ERT_CLIENTSECRET",
	"jwkFile":       "ERT_JWK_FILE",
	"newPassword":   "ERT_NEW_PASSWORD",
	"auth_url":      "ERT_AUTH_URL",
	"discovery_url": "ERT_DISCOVERY_URL",
	"ca-file":       "ERT_CA_FILE",
	"region":        "ERT_REGION",
	"hostname":      "ERT_HOSTNAME",
}

// secretFlags are the flags whose values are secrets: they are never
// printed, and giving them on the command line draws a warning.
var secretFlags = []string{"password", "clientsecret", "newPassword"}

// configFile is the JSON config file layout (--config FILE). Keys are the
// flag names.
type configFile map[string]any

// loadConfigFile reads a JSON config file. A file that holds a secret and
// is readable by group or others is refused, as ssh refuses such keys.
func loadConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw configFile
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: not a JSON object of flag names to values: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	hasSecret := false
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool, float64:
			out[k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("config file %s: value of %q must be a string, number or boolean", path, k)
		}
		for _, s := range secretFlags {
			if k == s && out[k] != "" {
				hasSecret = true
			}
		}
	}
	if hasSecret && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("config file %s holds a secret and is readable by others (mode %04o): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return out, nil
}

// resolve fills empty string fields from the environment and then the
// config file. get/set address a field by flag name.
func resolve(names []string, get func(string) string, set func(string, string), cfg map[string]string, getenv func(string) string) {
	for _, n := range names {
		if get(n) != "" {
			continue
		}
		if env, ok := envNames[n]; ok {
			if v := getenv(env); v != "" {
				set(n, v)
				continue
			}
		}
		if v, ok := cfg[n]; ok {
			set(n, v)
		}
	}
}

// secretOnCommandLine reports which secret flags were given as arguments.
func secretOnCommandLine(args []string) []string {
	var out []string
	for _, a := range args {
		for _, s := range secretFlags {
			if a == "--"+s || strings.HasPrefix(a, "--"+s+"=") || a == "-"+s || strings.HasPrefix(a, "-"+s+"=") {
				out = append(out, "--"+s)
			}
		}
	}
	return out
}
