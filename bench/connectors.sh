#!/usr/bin/env bash
# Connector benchmark (issue 13): the server polls fake sources (palisade-fakes, served by
# palisade-bench on 127.0.0.1) through its connectors, end to end into its store:
#   - backfill of N incidents (default 100,000) per source, one row per connector kind, at
#     the vendor's page size (QRadar also at its largest Range): incidents/s  target >= 5,000/s
#   - peak RSS of the server during each backfill                            target <= 300 MB
#   - change at the source -> webhook receipt at a local receiver, the poll triggered with
#     `sync` (Sentinel), p99                                                 target <= 1 s
#   - write-back: an analyst's change through the API -> the fake source receives it, p99
#                                                                            target <= 500 ms
#
#   bash bench/connectors.sh
#
# Environment (optional):
#   BENCH_INCIDENTS          incidents per source (default 100000)
#   BENCH_SAMPLES            latency samples (default 50)
#   BENCH_KINDS              connector kinds to run (default: all six)
#   PALISADE_BENCH_DATABASE  database URL for the server (a postgres:// URL on 127.0.0.1; it
#                            is dropped and created again for each run); default: a SQLite
#                            file in the work directory
#   BENCH_PROFILE            cargo profile directory (default release; "debug" for a smoke run)
#   BENCH_NO_BUILD           1 = use the binaries already built
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

INCIDENTS="${BENCH_INCIDENTS:-100000}"
SAMPLES="${BENCH_SAMPLES:-50}"
KINDS="${BENCH_KINDS:-MicrosoftSentinel MicrosoftDefenderXdr CrowdStrikeFalcon IbmQRadar SplunkEnterpriseSecurity SentinelOne}"
PORT=18085
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build

if [ -n "${PALISADE_BENCH_DATABASE:-}" ]; then
  DB=postgres
  PG_URL="${PALISADE_BENCH_DATABASE%/*}"
  PG_NAME="${PALISADE_BENCH_DATABASE##*/}"
else
  DB=sqlite
  PG_NAME=palisade_connector_bench
fi

# The vendors' page sizes (docs/connectors.md): the largest each API documents (Defender XDR
# 50, Sentinel's $top 1,000, Falcon 1,000 ids per page, QRadar's default Range 50 and the
# largest allowed 500, Splunk 10,000 rows per export, SentinelOne's limit 1,000).
runs_of() {
  case "$1" in
    MicrosoftSentinel) echo 1000 ;;
    MicrosoftDefenderXdr) echo 50 ;;
    CrowdStrikeFalcon) echo 1000 ;;
    IbmQRadar) echo "50 500" ;;
    SplunkEnterpriseSecurity) echo 10000 ;;
    SentinelOne) echo 1000 ;;
    *) echo "unknown connector kind $1" >&2; exit 2 ;;
  esac
}

# One fresh database and server per run: the RSS and the throughput are that backfill's.
# shellcheck disable=SC2329 # called below
run_one() {
  local kind="$1" size="$2" samples="$3" out="$WORK/out-$1-$2.txt"
  bench_database "$DB" "$PG_NAME" || return 1
  bench_bootstrap "Connector bench"
  bench_serve "$WORK/server.log" PALISADE_LOG=warn \
    PALISADE_CONNECTORS__ALLOW_PRIVATE_TARGETS=true PALISADE_CONNECTORS__ALLOW_HTTP=true \
    PALISADE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true PALISADE_WEBHOOKS__ALLOW_HTTP=true
  bench_rss_reset
  echo "==> $DB: $kind, $INCIDENTS incidents, pageSize $size"
  bench_load connectors --kind "$kind" --incidents "$INCIDENTS" --page-size "$size" \
    --samples "$samples" | tee "$out"
  bench_rss_peak "$kind $size" | tee -a "$out"
  bench_stop
  bench_drop "$DB" "$PG_NAME"
}

for KIND in $KINDS; do
  for SIZE in $(runs_of "$KIND"); do
    S=0
    [ "$KIND" = MicrosoftSentinel ] && S="$SAMPLES"
    run_one "$KIND" "$SIZE" "$S" || continue
  done
done

{
  echo "[$DB] backfill of $INCIDENTS incidents per source ($PROFILE build)"
  printf '  %-26s %9s %10s %12s %8s %8s\n' source pageSize seconds incidents/s calls "RSS MB"
  for f in "$WORK"/out-*.txt; do
    [ -e "$f" ] || continue
    awk '/^BACKFILL / {k=$2; p=$3; s=$5; r=$6; c=$7}
         /^RSS_PEAK / {m=$(NF-1)}
         END {if (k != "") printf "  %-26s %9s %10.1f %12.0f %8s %8s   target >= 5000/s: %s, <= 300 MB: %s\n", k, p, s, r, c, m, (r>=5000)?"MET":"MISSED", (m<=300)?"MET":"MISSED"}' "$f"
  done
  cat "$WORK"/out-*.txt | awk '/^SOURCE_TO_WEBHOOK_P99_MS/ {p=$2; printf "  change at the source -> webhook p99 %.1f ms   target <= 1000 ms: %s\n", p, (p<=1000)?"MET":"MISSED"}'
  cat "$WORK"/out-*.txt | awk '/^WRITEBACK_P99_MS/ {p=$2; printf "  write-back p99 %.1f ms   target <= 500 ms: %s\n", p, (p<=500)?"MET":"MISSED"}'
} >> "$SUMMARY"

echo
echo "==> results (fake sources, load generator and server share the machine's cores)"
cat "$SUMMARY"
