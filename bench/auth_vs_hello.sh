#!/usr/bin/env bash
# Benchmark: authenticated `GET /api/v2/users/profile` (HTTP Basic with a demo
# service-account credential) against the unauthenticated hello-world route
# `GET /api/v2/ping`, both with wrk over keep-alive connections on loopback.
#
# Targets: auth throughput >= 50% of hello throughput, and auth p99 < 5 ms.
#
#   bash bench/auth_vs_hello.sh
#
# Environment (all optional):
#   PALISADE_BENCH_DATABASE  database URL for the server (e.g. a postgres://
#                            URL on 127.0.0.1); default: a temporary SQLite file
#                            sqlite:///tmp/palisade-bench-<pid>.db
#   PALISADE_BENCH_NO_BUILD  1 = use the existing release binary, don't build
#   PALISADE_BENCH_DURATION  wrk duration of each measured run (default 10s)
#
# Exit status: 0 targets met, 1 targets missed, 2 the benchmark could not run.
# Everything talks only to 127.0.0.1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

HOST=127.0.0.1
PORT=18080
ORIGIN="http://${HOST}:${PORT}"
BASE="${ORIGIN}/api/v2"
THREADS=2
CONNECTIONS=32
DURATION="${PALISADE_BENCH_DURATION:-10s}"
WARMUP=2s
TARGET_RATIO_PCT=50
TARGET_P99_MS=5

SQLITE_FILE="/tmp/palisade-bench-$$.db"
if [ -n "${PALISADE_BENCH_DATABASE:-}" ]; then
  DATABASE="$PALISADE_BENCH_DATABASE"
  OWN_SQLITE=0
else
  DATABASE="sqlite://${SQLITE_FILE}"
  OWN_SQLITE=1
fi

WORK="$(mktemp -d /tmp/palisade-bench.XXXXXX)"
SERVER_PID=""
SHOW_SERVER_LOG=1

die() {
  echo "error: $*" >&2
  exit 2
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$SHOW_SERVER_LOG" = 1 ] && [ -d "$WORK" ]; then
    if [ -s "$WORK/server.out" ] || [ -s "$WORK/server.err" ]; then
      echo "--- server stdout (last 20 lines) ---" >&2
      tail -n 20 "$WORK/server.out" >&2 2>/dev/null || true
      echo "--- server stderr (last 40 lines) ---" >&2
      tail -n 40 "$WORK/server.err" >&2 2>/dev/null || true
    fi
  fi
  if [ "$OWN_SQLITE" = 1 ]; then
    rm -f "$SQLITE_FILE" "$SQLITE_FILE-wal" "$SQLITE_FILE-shm" "$SQLITE_FILE-journal"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools and binary
# ---------------------------------------------------------------------------

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is required"

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release/palisade"

if [ "${PALISADE_BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "==> cargo build --release -p palisade"
  cargo build --release -p palisade
fi
[ -x "$BIN" ] || die "$BIN not found (build it with: cargo build --release -p palisade)"

if (exec 3<>"/dev/tcp/${HOST}/${PORT}") 2>/dev/null; then
  die "something is already listening on ${HOST}:${PORT}; stop it first"
fi

# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------

echo "==> starting: $BIN demo --database $DATABASE --listen ${HOST}:${PORT}"
"$BIN" demo --database "$DATABASE" --listen "${HOST}:${PORT}" \
  >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
SERVER_PID=$!

http_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null || true
}

ready=0
for _ in $(seq 1 120); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited before becoming ready"
  if [ "$(http_status "${ORIGIN}/healthz")" = 200 ]; then
    ready=1
    break
  fi
  sleep 0.5
done
[ "$ready" = 1 ] || die "GET ${ORIGIN}/healthz did not answer 200 within 60s"
echo "==> server is up (GET /healthz -> 200)"

# The demo command prints one JSON line with the demo credential on stdout.
parse_credentials() {
  python3 - "$WORK/server.out" <<'PY'
import json, sys

with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("clientSecret") and doc.get("clientId"):
            print(doc["clientId"])
            print(doc["clientSecret"])
            print(doc.get("baseUrl", ""))
            sys.exit(0)
sys.exit(1)
PY
}

creds=""
for _ in $(seq 1 20); do
  if creds="$(parse_credentials)"; then
    break
  fi
  creds=""
  sleep 0.5
done
[ -n "$creds" ] || die "no JSON line with clientId/clientSecret on the demo command's stdout"
CLIENT_ID="$(sed -n 1p <<<"$creds")"
CLIENT_SECRET="$(sed -n 2p <<<"$creds")"
PRINTED_BASE="$(sed -n 3p <<<"$creds")"
if [ -n "$PRINTED_BASE" ] && [ "$PRINTED_BASE" != "$BASE" ]; then
  echo "note: the demo printed baseUrl $PRINTED_BASE; benchmarking $BASE"
fi
AUTH_HEADER="Authorization: Basic $(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"
echo "==> demo client: $CLIENT_ID"

# Sanity checks: both routes answer 200, and the profile route really checks auth.
s="$(http_status "${BASE}/ping")"
[ "$s" = 200 ] || die "GET ${BASE}/ping answered ${s:-nothing}, expected 200"
s="$(http_status -H "$AUTH_HEADER" "${BASE}/users/profile")"
[ "$s" = 200 ] || die "GET ${BASE}/users/profile with the demo credential answered ${s:-nothing}, expected 200"
s="$(http_status "${BASE}/users/profile")"
[ "$s" = 401 ] || echo "warning: GET ${BASE}/users/profile without credentials answered ${s:-nothing}, expected 401"

# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------

# run_wrk NAME DURATION [wrk args...] URL
run_wrk() {
  local name="$1" duration="$2"
  shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "$@" >"$WORK/$name.txt" 2>&1 ||
    { cat "$WORK/$name.txt" >&2; die "wrk failed ($name)"; }
}

# Prints "requests_per_sec p99_ms non_2xx socket_errors" for one wrk output.
parse_wrk() {
  python3 - "$1" <<'PY'
import re, sys

text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
p99 = re.search(r"^\s*99(?:\.0+)?%\s+([0-9.]+)\s*(us|ms|s|m|h)\s*$", text, re.M)
if not rps or not p99:
    sys.stderr.write("could not parse wrk output:\n" + text)
    sys.exit(1)
scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
p99_ms = float(p99.group(1)) * scale[p99.group(2)]
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:\s+connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print("%.2f %.3f %d %d" % (
    float(rps.group(1)),
    p99_ms,
    int(non2xx.group(1)) if non2xx else 0,
    sum(int(x) for x in errors.groups()) if errors else 0,
))
PY
}

echo "==> warm-up: ${WARMUP} each"
run_wrk warmup-hello "$WARMUP" "${BASE}/ping"
run_wrk warmup-auth "$WARMUP" -H "$AUTH_HEADER" "${BASE}/users/profile"

echo "==> hello: wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency ${BASE}/ping"
run_wrk hello "$DURATION" "${BASE}/ping"
cat "$WORK/hello.txt"

echo "==> auth: wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency -H 'Authorization: Basic ...' ${BASE}/users/profile"
run_wrk auth "$DURATION" -H "$AUTH_HEADER" "${BASE}/users/profile"
cat "$WORK/auth.txt"

HELLO_STATS="$(parse_wrk "$WORK/hello.txt")" || die "could not parse wrk output (hello)"
AUTH_STATS="$(parse_wrk "$WORK/auth.txt")" || die "could not parse wrk output (auth)"
read -r HELLO_RPS HELLO_P99 HELLO_BAD HELLO_ERR <<<"$HELLO_STATS"
read -r AUTH_RPS AUTH_P99 AUTH_BAD AUTH_ERR <<<"$AUTH_STATS"
if [ -z "${HELLO_RPS:-}" ] || [ -z "${AUTH_RPS:-}" ]; then
  die "could not parse wrk output"
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

verdict_rc=0
python3 - "$HELLO_RPS" "$HELLO_P99" "$HELLO_BAD" "$HELLO_ERR" \
  "$AUTH_RPS" "$AUTH_P99" "$AUTH_BAD" "$AUTH_ERR" \
  "$TARGET_RATIO_PCT" "$TARGET_P99_MS" "$DATABASE" "$DURATION" >"$WORK/verdict" <<'PY' || verdict_rc=$?
import json, sys

(hello_rps, hello_p99, hello_bad, hello_err,
 auth_rps, auth_p99, auth_bad, auth_err) = sys.argv[1:9]
target_ratio, target_p99, database, duration = sys.argv[9:13]
hello_rps, hello_p99, auth_rps, auth_p99 = map(float, (hello_rps, hello_p99, auth_rps, auth_p99))
hello_bad, hello_err, auth_bad, auth_err = map(int, (hello_bad, hello_err, auth_bad, auth_err))
target_ratio, target_p99 = float(target_ratio), float(target_p99)

ratio = 100.0 * auth_rps / hello_rps if hello_rps > 0 else 0.0
ratio_ok = ratio >= target_ratio
p99_ok = auth_p99 < target_p99
clean = hello_bad == 0 and auth_bad == 0

print()
print("==> results (%s database; wrk -t2 -c32 -d%s, keep-alive, 127.0.0.1)" % (database.split(":")[0], duration))
print("  %-34s %12s %10s" % ("route", "requests/s", "p99 (ms)"))
print("  %-34s %12.0f %10.3f" % ("hello  GET /api/v2/ping", hello_rps, hello_p99))
print("  %-34s %12.0f %10.3f" % ("auth   GET /api/v2/users/profile", auth_rps, auth_p99))
print("  auth/hello throughput: %.1f%%" % ratio)
if hello_bad or auth_bad:
    print("  non-2xx responses: hello %d, auth %d  (results are NOT valid)" % (hello_bad, auth_bad))
if hello_err or auth_err:
    print("  socket errors: hello %d, auth %d" % (hello_err, auth_err))
print("  target auth/hello >= %.0f%%: %s (%.1f%%)" % (target_ratio, "MET" if ratio_ok else "MISSED", ratio))
print("  target auth p99 < %.0f ms:   %s (%.3f ms)" % (target_p99, "MET" if p99_ok else "MISSED", auth_p99))
met = ratio_ok and p99_ok and clean
print("  overall: %s" % ("targets met" if met else "targets NOT met"))
print("BENCH_RESULT " + json.dumps({
    "hello_rps": round(hello_rps, 2), "hello_p99_ms": round(hello_p99, 3),
    "auth_rps": round(auth_rps, 2), "auth_p99_ms": round(auth_p99, 3),
    "ratio_pct": round(ratio, 1), "non_2xx": hello_bad + auth_bad,
    "targets_met": met,
}))
sys.exit(0 if met else 1)
PY
cat "$WORK/verdict"
SHOW_SERVER_LOG=0
exit "$verdict_rc"
