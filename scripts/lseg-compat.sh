#!/usr/bin/env bash
# lseg-compat.sh — run LSEG's official RTO example clients, unmodified,
# against a local ertkit emulator and report pass/fail per example.
#
# The examples are NOT part of ertkit. Fetch them yourself from
# https://github.com/Refinitiv/websocket-api (Applications/Examples/RTO/)
# and put them in one directory:
#
#   DIR/market_price_rto_service_discovery.py   (v1 password grant + discovery)
#   DIR/market_price_rto_authentication.py      (v1 password grant, fixed host)
#   DIR/market_price_rto_client_cred_auth.py    (v2 client credentials)
#   DIR/market_price_rto_client_cred_auth.go    (v2 client credentials; DIR or DIR/go)
#
# Missing files are skipped. Usage:
#
#   scripts/lseg-compat.sh [-l TOKEN_LIFETIME] [-d SECONDS] [-o LOGDIR] DIR
#
#   -l  access-token lifetime of the emulator (default 20s: forces v1 renewals)
#   -d  run time of the v1 service-discovery runs (default 75; must exceed
#       3 renewals = 3 x 0.9 x lifetime); the other runs get 40 s
#   -o  where logs go (default: a new temporary directory, printed)
#
# Environment:
#   PYTHON        interpreter with the "websocket-client" and "requests"
#                 modules (default /usr/bin/python3)
#   ERT_EMULATOR  command that starts an emulator and prints its Info JSON
#                 line (default: build ./cmd/ert of this repository and run
#                 `ert emulator`); it gets
#                 --token-lifetime and --rate appended.
#
# Each example is pointed at the emulator only through its documented
# command-line options. The emulator's CA is trusted through environment
# variables the examples' libraries honour: REQUESTS_CA_BUNDLE (requests),
# WEBSOCKET_CLIENT_CA_BUNDLE (websocket-client), SSL_CERT_FILE (Go's
# crypto/x509 and OpenSSL defaults). The Go example skips TLS verification
# on its HTTP calls by itself.
#
# Exit status: 0 when every example that was found passed, 1 otherwise,
# 2 on usage or setup errors.
set -u

lifetime=20s
sd_secs=75
other_secs=40
logdir=
while getopts "l:d:o:h" opt; do
  case $opt in
    l) lifetime=$OPTARG ;;
    d) sd_secs=$OPTARG ;;
    o) logdir=$OPTARG ;;
    h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 [-l lifetime] [-d seconds] [-o logdir] EXAMPLES_DIR" >&2
  exit 2
fi
exdir=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
[ -n "$logdir" ] || logdir=$(mktemp -d /tmp/lseg-compat.XXXXXX)
mkdir -p "$logdir"
echo "logs: $logdir"

emu_pid=
cleanup() {
  if [ -n "$emu_pid" ] && kill -0 "$emu_pid" 2>/dev/null; then
    kill -INT "$emu_pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$emu_pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- start the emulator --------------------------------------------------
# Builds first and runs the binary, rather than `go run ./cmd/ert emulator`:
# compile time then does not count against the readiness deadline, and
# SIGINT reaches the emulator itself.
start_emulator() {
  local bin="$logdir/ert"
  if [ -n "${ERT_EMULATOR:-}" ]; then
    # shellcheck disable=SC2086
    $ERT_EMULATOR --token-lifetime "$lifetime" --rate 2 >"$logdir/emulator.json" 2>"$logdir/emulator.log" &
    emu_pid=$!
    return 0
  fi
  if ! (cd "$repo" && go build -o "$bin" ./cmd/ert) >"$logdir/build.log" 2>&1; then
    echo "SETUP FAIL: cannot build ./cmd/ert (see $logdir/build.log)" >&2
    return 1
  fi
  "$bin" emulator --token-lifetime "$lifetime" --rate 2 >"$logdir/emulator.json" 2>"$logdir/emulator.log" &
  emu_pid=$!
}

start_emulator || exit 2
for _ in $(seq 1 240); do
  [ -s "$logdir/emulator.json" ] && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.5
done
if [ ! -s "$logdir/emulator.json" ]; then
  echo "SETUP FAIL: emulator printed no Info line within 120 s (see $logdir/emulator.log)" >&2
  exit 2
fi

# Read the Info JSON line into shell variables (values are printed only as
# $NAMES below, never the secrets themselves).
eval "$("$py" - "$logdir/emulator.json" <<'PYEOF'
import json, shlex, sys
info = json.loads(open(sys.argv[1]).readline())
eps = info.get("endpoints") or []
out = {
    "AUTH_V1": info["auth_url_v1"], "AUTH_V2": info["auth_url_v2"],
    "DISCOVERY": info["discovery_url"], "CA": info.get("ca_file", ""),
    "EMU_USER": info["user"], "EMU_PASSWORD": info["password"],
    "EMU_CLIENTID": info["clientid"], "EMU_CLIENTSECRET": info["clientsecret"],
    "ADMIN": info.get("admin_url", ""),
    "EP_HOST": eps[0]["host"] if eps else "", "EP_PORT": str(eps[0]["port"]) if eps else "",
}
for k, v in out.items():
    print(f"{k}={shlex.quote(str(v))}")
PYEOF
)" || { echo "SETUP FAIL: cannot parse $logdir/emulator.json" >&2; exit 2; }

if [ -n "$CA" ]; then
  export REQUESTS_CA_BUNDLE="$CA" WEBSOCKET_CLIENT_CA_BUNDLE="$CA" SSL_CERT_FILE="$CA"
fi
export PYTHONUNBUFFERED=1

# The v1 examples renew at int(0.9 x expires_in) seconds; ask for at most
# three renewals, and only as many as fit into the run.
lifetime_s=$(echo "$lifetime" | awk '/m$/{print int($0)*60; next} {print int($0)}')
renew_every=$(( lifetime_s * 9 / 10 ))
want_renewals=0
[ "$renew_every" -gt 0 ] && want_renewals=$(( (sd_secs - 2) / renew_every ))
[ "$want_renewals" -gt 3 ] && want_renewals=3

# --- checks ---------------------------------------------------------------
results=()
overall=0

count() { grep -cE "$1" "$2" 2>/dev/null || true; }

# judge NAME LOG REQS: REQS is a comma list of extra requirements:
#   disc   the endpoint came from service discovery
#   renew  v1 token renewals, each answered by a Login reissue, with
#          Updates still arriving after the last one
#   two    two sessions (hot standby)
# Always required: a token, a Login Refresh and an item Refresh, Updates
# for /TRI.N, no Login/item Status Closed, no disconnect or crash before
# the stop marker. Adds one PASS/FAIL line with the evidence counts.
judge() {
  local name=$1 log=$2 reqs=",$3," why=()
  local tok disc refresh upd ping pong renew reissue closed stclosed tb after
  tok=$(count 'Authentication succeeded|Authentication Succeeded' "$log")
  disc=$(count 'Service discovery succeeded|"services": ?\[' "$log")
  refresh=$(count '"Type": ?"Refresh"' "$log")
  upd=$(count '"Type": ?"Update"' "$log")
  ping=$(count '"Type": ?"Ping"' "$log")
  pong=$(count '"Type": ?"Pong"' "$log")
  renew=$(count 'authentication request with refresh token' "$log")
  reissue=$(count '"Refresh": ?false' "$log")
  closed=$(count 'WebSocket Closed|Login failed|read: |WebSocket Connection Failed|Error: |Reconnect' "$log")
  stclosed=$(count '"Stream": ?"Closed' "$log")
  tb=$(count 'Traceback|panic:|Exception in thread' "$log")
  [ "$tok" -ge 1 ] || why+=("no token")
  [ "$refresh" -ge 2 ] || why+=("Login+item Refresh missing ($refresh)")
  [ "$upd" -ge 3 ] || why+=("few Updates ($upd)")
  [ "$pong" -ge "$ping" ] || why+=("Pings unanswered ($ping pings, $pong pongs)")
  [ "$tb" -eq 0 ] || why+=("crash ($tb)")
  [ "$stclosed" -eq 0 ] || why+=("Status Closed ($stclosed)")
  [ "$closed" -eq 0 ] || why+=("disconnect/error lines ($closed)")
  grep -q '/TRI.N' "$log" || why+=("no /TRI.N")
  case $reqs in *,disc,*) [ "$disc" -ge 1 ] || why+=("no discovery") ;; esac
  if [[ $reqs == *,renew,* ]]; then
    [ "$renew" -ge "$want_renewals" ] || why+=("renewals $renew < $want_renewals")
    [ "$reissue" -ge "$want_renewals" ] || why+=("Login reissues $reissue < $want_renewals")
    after=$(awk '/"Refresh": ?false/{n=0} /"Type": ?"Update"/{n++} END{print n+0}' "$log")
    [ "$reissue" -eq 0 ] || [ "$after" -ge 1 ] || why+=("no Updates after the last reissue")
  fi
  if [[ $reqs == *,two,* ]]; then
    [ "$(count 'WebSocket successfully connected' "$log")" -ge 2 ] || why+=("no second session")
  fi
  local line="token=$tok discovery=$disc refreshes=$refresh updates=$upd pings=$ping pongs=$pong renewals=$renew reissues=$reissue"
  if [ ${#why[@]} -eq 0 ]; then
    results+=("PASS $name  ($line)")
  else
    results+=("FAIL $name  ($line; ${why[*]})")
    overall=1
  fi
}

# run NAME SECONDS REQS CMD...: runs CMD with SIGINT after SECONDS (SIGKILL
# 5 s later), output in $logdir/NAME.log. The command is logged with the
# secrets as variable names.
run() {
  local name=$1 secs=$2 reqs=$3; shift 3
  if ! kill -0 "$emu_pid" 2>/dev/null; then
    results+=("FAIL $name  (emulator no longer running; see $logdir/emulator.log)")
    overall=1
    return
  fi
  local shown="$*"
  shown=${shown//"$EMU_PASSWORD"/'$EMU_PASSWORD'}
  shown=${shown//"$EMU_CLIENTSECRET"/'$EMU_CLIENTSECRET'}
  echo "== $name (${secs}s): $shown" | tee "$logdir/$name.cmd"
  # SIGINT after SECONDS is the examples' own way to stop (they then close
  # their sockets). A marker is appended one second earlier and only the
  # lines before it are judged, so those closes do not count as failures.
  local log=$logdir/$name.log marker='=== lseg-compat: stopping (SIGINT) ===' rc
  : >"$log"
  ( sleep $((secs - 1)); echo "$marker" >>"$log" ) &
  local marker_pid=$!
  # env --default-signal=INT: a shell running this script in the background
  # would hand the example an ignored SIGINT, and Python would then never
  # see KeyboardInterrupt. The subshell (which must not exec timeout, hence
  # the explicit exit) keeps bash's "Killed" notice out of the report.
  ( timeout -s INT -k 5 "$secs" env --default-signal=INT "$@" >>"$log" 2>&1; exit $? ) 2>/dev/null
  rc=$?
  kill "$marker_pid" 2>/dev/null
  wait "$marker_pid" 2>/dev/null
  # 137: still running 5 s after SIGINT. Seen with websocket-client 1.2.x,
  # whose reader thread never wakes up when another thread closes the
  # socket; not judged as a failure of the emulator.
  [ "$rc" -eq 137 ] && echo "   (did not exit within 5 s of SIGINT; killed)"
  sed "/^$marker\$/,\$d" "$log" >"$log.judged"
  judge "$name" "$log.judged" "$reqs"
}

sd=$exdir/market_price_rto_service_discovery.py
au=$exdir/market_price_rto_authentication.py
cc=$exdir/market_price_rto_client_cred_auth.py
gosrc=$exdir/market_price_rto_client_cred_auth.go
[ -f "$gosrc" ] || gosrc=$exdir/go/market_price_rto_client_cred_auth.go

if [ -f "$sd" ] || [ -f "$au" ] || [ -f "$cc" ]; then
  "$py" -c 'import websocket, requests' 2>/dev/null ||
    { echo "SETUP FAIL: $py lacks websocket-client/requests" >&2; exit 2; }
fi

# v1 examples share the machine account and ask for exclusive sign-on, so
# they run one after the other.
if [ -f "$sd" ]; then
  run py_sd "$sd_secs" disc,renew "$py" "$sd" --user "$EMU_USER" --password "$EMU_PASSWORD" --clientid "$EMU_CLIENTID" \
    --auth_url "$AUTH_V1" --discovery_url "$DISCOVERY"
  # LDP's end-of-session signal: one refresh answered with a shorter
  # expires_in. The example then signs on again with a password grant
  # (takeExclusiveSignOnControl) and reissues its Login with the new token;
  # its streaming session must survive that.
  if [ -n "$ADMIN" ] && curl -fsS --cacert "$CA" -X POST -d '{"shorten_refresh":"8s","count":1}' \
      "${ADMIN}faults/gateway" >/dev/null 2>"$logdir/admin.err"; then
    run py_sd_resignon "$sd_secs" disc,renew "$py" "$sd" --user "$EMU_USER" --password "$EMU_PASSWORD" --clientid "$EMU_CLIENTID" \
      --auth_url "$AUTH_V1" --discovery_url "$DISCOVERY"
  else
    results+=("SKIP py_sd_resignon (admin API unavailable: $(head -c 200 "$logdir/admin.err"))")
  fi
  run py_sd_hotstandby "$sd_secs" disc,renew,two "$py" "$sd" --user "$EMU_USER" --password "$EMU_PASSWORD" --clientid "$EMU_CLIENTID" \
    --auth_url "$AUTH_V1" --discovery_url "$DISCOVERY" --hotstandby
fi
if [ -f "$au" ]; then
  run py_auth "$sd_secs" renew "$py" "$au" --user "$EMU_USER" --password "$EMU_PASSWORD" --clientid "$EMU_CLIENTID" \
    --auth_url "$AUTH_V1" --hostname "$EP_HOST" --port "$EP_PORT"
fi
if [ -f "$cc" ]; then
  run py_v2_discovery "$other_secs" disc "$py" "$cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
    --auth_url "$AUTH_V2" --discovery_url "$DISCOVERY"
  run py_v2_hotstandby "$other_secs" disc,two "$py" "$cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
    --auth_url "$AUTH_V2" --discovery_url "$DISCOVERY" --hotstandby
  run py_v2_hostname "$other_secs" - "$py" "$cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
    --auth_url "$AUTH_V2" --hostname "$EP_HOST" --port "$EP_PORT"
fi
if [ -f "$gosrc" ]; then
  # The Go example needs its own module with github.com/gorilla/websocket;
  # it is built in a scratch copy so the user's directory is not touched.
  gobuild=$logdir/goexample
  mkdir -p "$gobuild"
  cp "$gosrc" "$gobuild/"
  if (cd "$gobuild" && go mod init market_price_rto_examples && go get github.com/gorilla/websocket &&
      go build -o mp_cc .) >"$logdir/go_build.log" 2>&1; then
    run go_v2_discovery "$other_secs" disc "$gobuild/mp_cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
      --auth_url "$AUTH_V2" --discovery_url "$DISCOVERY"
    run go_v2_hotstandby "$other_secs" disc,two "$gobuild/mp_cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
      --auth_url "$AUTH_V2" --discovery_url "$DISCOVERY" --hotstandby
    run go_v2_hostname "$other_secs" - "$gobuild/mp_cc" --clientid "$EMU_CLIENTID" --clientsecret "$EMU_CLIENTSECRET" \
      --auth_url "$AUTH_V2" --hostname "$EP_HOST" --port "$EP_PORT"
  else
    results+=("FAIL go example build (see $logdir/go_build.log)")
    overall=1
  fi
fi

echo
echo "Results (logs in $logdir):"
if [ ${#results[@]} -eq 0 ]; then
  echo "no examples found in $exdir"
  exit 2
fi
printf '  %s\n' "${results[@]}"
exit $overall
