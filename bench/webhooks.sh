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
#   BENCH_PROFILE    cargo profile directory (default release; "debug" for a quick smoke run)
#   BENCH_NO_BUILD   1 = use the binaries already built
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
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build

for DB in $DATABASES; do
  bench_database "$DB" palisade_webhook_bench || continue
  echo "==> $DB: bootstrap"
  bench_bootstrap "Bench MSSP"
  bench_serve "$WORK/server-$DB.log" PALISADE_LOG=warn \
    PALISADE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true PALISADE_WEBHOOKS__ALLOW_HTTP=true

  echo "==> $DB: $EVENTS events over $WEBHOOKS webhooks, then $RATE events/s for ${LATENCY_SECS}s"
  bench_load webhooks \
    --webhooks "$WEBHOOKS" --events "$EVENTS" --rate "$RATE" --latency-secs "$LATENCY_SECS" | tee "$WORK/out-$DB.txt"
  bench_stop
  {
    echo "[$DB]"
    grep -E '^(THROUGHPUT|LATENCY) ' "$WORK/out-$DB.txt" | sed 's/^/  /'
    awk '/^DELIVERIES_PER_SEC/ {r=$2; printf "  deliveries/s %.0f   target >= 5000: %s\n", r, (r>=5000)?"MET":"MISSED"}' "$WORK/out-$DB.txt"
    awk '/^LATENCY_P99_MS/ {p=$2; printf "  latency p99 %.1f ms   target <= 100 ms: %s\n", p, (p<=100)?"MET":"MISSED"}' "$WORK/out-$DB.txt"
  } >> "$SUMMARY"
  bench_drop "$DB" palisade_webhook_bench
done

echo
echo "==> results (receiver, load generator and server share 2 cores)"
cat "$SUMMARY"
