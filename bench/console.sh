#!/usr/bin/env bash
# Console benchmark (issue #15): seed N incidents (default 1,000,000) across 1,000 workspaces
# through the batch ingest API (the seed of bench/incidents.sh), sign a console user in, and
# measure, one request at a time, the server's time (the console's Server-Timing header) of
#   - the incident queue, default filters                target p99 <= 50 ms
#   - the incident queue, one workspace and High          target p99 <= 50 ms
#   - the incident page of random incidents               target p99 <= 20 ms
# and the queue page's weight                             target <= 150 KB.
#
#   bash bench/console.sh
#   BENCH_PROFILE=debug BENCH_INCIDENTS=20000 bash bench/console.sh     # a quick smoke run
#
# Environment (optional):
#   BENCH_INCIDENTS           incidents to seed (default 1000000; rounded up to whole batches
#                             of workspaces × 6 sources)
#   BENCH_WORKSPACES          workspaces (default 1000)
#   BENCH_SAMPLES             requests measured per page (default 200)
#   PALISADE_BENCH_DATABASE   the server's database: unset = a fresh SQLite file; a
#                             postgres://… URL of an empty database on 127.0.0.1
#   BENCH_PROFILE             cargo profile directory (default release; "debug" for a smoke run)
#   BENCH_NO_BUILD            1 = use the binaries already built
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

INCIDENTS="${BENCH_INCIDENTS:-1000000}"
WORKSPACES="${BENCH_WORKSPACES:-1000}"
SAMPLES="${BENCH_SAMPLES:-200}"
PER_STREAM=$(( (INCIDENTS + WORKSPACES * 6 - 1) / (WORKSPACES * 6) ))
PORT=18085
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build

if [ -n "${PALISADE_BENCH_DATABASE:-}" ]; then
  URL="$PALISADE_BENCH_DATABASE"
  DB=postgres
  case "$URL" in postgres://*|postgresql://*) ;; *) echo "PALISADE_BENCH_DATABASE must be a postgres:// URL" >&2; exit 2 ;; esac
else
  bench_database sqlite palisade_console_bench
  DB=sqlite
fi

echo "==> $DB: bootstrap and a console user"
bench_bootstrap "Console bench MSSP"
EMAIL="analyst@bench.example"
PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
echo "$PASSWORD" | "$BIN" admin user set-password --database "$URL" --org "$ORG" \
  --email "$EMAIL" --create "Bench analyst" --org-role Admin >/dev/null
bench_serve "$WORK/server.log" PALISADE_LOG=warn

echo "==> $DB: seeding $WORKSPACES workspaces × 6 sources × $PER_STREAM incidents through the ingest API"
bench_load seed --workspaces "$WORKSPACES" --per-stream "$PER_STREAM" --paths "$WORK/paths.txt" | tee "$WORK/seed.txt"
bench_wait_outbox
if [ "$DB" = postgres ]; then
  psql "$URL" -qc 'ANALYZE' >/dev/null
  echo "ANALYZE run"
fi

echo "==> $DB: console pages, $SAMPLES requests each, one at a time"
bench_load console --email "$EMAIL" --password "$PASSWORD" --paths "$WORK/paths.txt" \
  --samples "$SAMPLES" | tee "$WORK/console.txt"
bench_stop

figure() { awk -v k="$1" '$1=="CONSOLE_P99" && $2==k {print $3}' "$WORK/console.txt"; }
QUEUE=$(figure queue)
FILTERED=$(figure queue_filtered)
INCIDENT=$(figure incident)
BYTES=$(awk '$1=="CONSOLE_QUEUE_BYTES" {print $2}' "$WORK/console.txt")
SIZE=$(du -sh "$WORK/bench.db" 2>/dev/null | cut -f1 || true)
{
  echo "[$DB] $((WORKSPACES * 6 * PER_STREAM)) incidents in $WORKSPACES workspaces ${SIZE:+(SQLite file $SIZE)}; profile $PROFILE"
  grep -v '^CONSOLE_' "$WORK/console.txt" | sed 's/^/  /'
  awk -v v="$QUEUE" 'BEGIN{printf "  queue page p99 (default filters)   %7.1f ms   target <= 50 ms: %s\n", v, (v<=50)?"MET":"MISSED"}'
  awk -v v="$FILTERED" 'BEGIN{printf "  queue page p99 (workspace, High)   %7.1f ms   target <= 50 ms: %s\n", v, (v<=50)?"MET":"MISSED"}'
  awk -v v="$INCIDENT" 'BEGIN{printf "  incident page p99                  %7.1f ms   target <= 20 ms: %s\n", v, (v<=20)?"MET":"MISSED"}'
  awk -v v="$BYTES" 'BEGIN{printf "  queue page weight                  %7.1f KB   target <= 150 KB: %s\n", v/1024, (v<=150*1024)?"MET":"MISSED"}'
} >> "$SUMMARY"
if [ "$DB" = sqlite ]; then bench_drop sqlite palisade_console_bench; fi

echo
echo "==> results (server time from Server-Timing; client and server share the machine's cores)"
cat "$SUMMARY"
