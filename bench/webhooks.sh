#!/usr/bin/env bash
# Webhook delivery benchmark (issue #4), on SQLite and, when PostgreSQL is reachable, on
# PostgreSQL:
#   - signed deliveries per second to a local keep-alive receiver: 50,000 events over 20
#     webhooks (queued while the webhooks are paused, then all resumed)   target >= 5,000/s
#   - latency from the incident change (the ingest request) to receipt, p50/p99, at 1,000
#     events/s                                                             target p99 <= 100 ms
# The receiver runs inside palisade-bench on 127.0.0.1 and verifies every X-CF-Signature.
#
#   bash bench/webhooks.sh
#
# Environment (optional):
#   BENCH_WEBHOOKS   webhooks (default 20)       BENCH_EVENTS   events (default 50000)
#   BENCH_RATE       events/s in the latency phase (default 1000)
#   BENCH_LATENCY_SECS  length of the latency phase (default 10)
#   BENCH_DATABASES  "sqlite postgres" (default), or one of them
#   BENCH_PG_URL     server URL for the PostgreSQL run (default postgres://postgres@127.0.0.1:5432)
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WEBHOOKS="${BENCH_WEBHOOKS:-20}"
EVENTS="${BENCH_EVENTS:-50000}"
RATE="${BENCH_RATE:-1000}"
LATENCY_SECS="${BENCH_LATENCY_SECS:-10}"
DATABASES="${BENCH_DATABASES:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PORT=18082
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d /tmp/palisade-hookbench.XXXXXX)"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p palisade -p palisade-bench
BIN=target/release/palisade
LOAD=target/release/palisade-bench
SUMMARY="$WORK/summary.txt"
: > "$SUMMARY"

for DB in $DATABASES; do
  case "$DB" in
    sqlite) URL="sqlite://$WORK/bench.db" ;;
    postgres)
      if ! pg_isready -h 127.0.0.1 -p 5432 -q; then echo "PostgreSQL not reachable; skipping" >&2; continue; fi
      psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_webhook_bench' >/dev/null
      psql "$PG_URL/postgres" -qc 'CREATE DATABASE palisade_webhook_bench' >/dev/null
      URL="$PG_URL/palisade_webhook_bench" ;;
    *) echo "unknown database $DB" >&2; exit 2 ;;
  esac
  echo "==> $DB: bootstrap"
  CRED=$("$BIN" admin bootstrap --org-name "Bench MSSP" --database "$URL")
  ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientId"])' "$CRED")
  SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientSecret"])' "$CRED")
  PALISADE_LOG=warn PALISADE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true PALISADE_WEBHOOKS__ALLOW_HTTP=true \
    "$BIN" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>"$WORK/server-$DB.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

  echo "==> $DB: $EVENTS events over $WEBHOOKS webhooks, then $RATE events/s for ${LATENCY_SECS}s"
  "$LOAD" --base "$BASE" --client-id "$ID" --client-secret "$SECRET" webhooks \
    --webhooks "$WEBHOOKS" --events "$EVENTS" --rate "$RATE" --latency-secs "$LATENCY_SECS" | tee "$WORK/out-$DB.txt"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  {
    echo "[$DB]"
    grep -E '^(THROUGHPUT|LATENCY) ' "$WORK/out-$DB.txt" | sed 's/^/  /'
    awk '/^DELIVERIES_PER_SEC/ {r=$2; printf "  deliveries/s %.0f   target >= 5000: %s\n", r, (r>=5000)?"MET":"MISSED"}' "$WORK/out-$DB.txt"
    awk '/^LATENCY_P99_MS/ {p=$2; printf "  latency p99 %.1f ms   target <= 100 ms: %s\n", p, (p<=100)?"MET":"MISSED"}' "$WORK/out-$DB.txt"
  } >> "$SUMMARY"
  [ "$DB" = postgres ] && psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_webhook_bench WITH (FORCE)' >/dev/null
  rm -f "$WORK"/bench.db*
done

echo
echo "==> results (receiver, load generator and server share 2 cores)"
cat "$SUMMARY"
