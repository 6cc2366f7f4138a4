#!/usr/bin/env bash
# Incident benchmark (issue #3): seed 1,000 workspaces × 6 sources ≈ 1,000,000 incidents
# (entities, alerts, evidence included) through the batch ingest API, then measure, beside the
# hello-world route of the same binary in the same run:
#   - GET incident detail requests/s and p99 (wrk, random incidents)   target ≥ 40% of hello
#   - across-workspaces first page p50/p99 and full-scan time, with and without `query`
#                                                                      target page p99 ≤ 50 ms
#   - ingest incidents/s in batches                                    target ≥ 5,000/s
#   - the server's peak RSS in each phase (seed, outbox drain, reads, listings)
#                                                                      target ≤ 300 MB
# on SQLite and, when PostgreSQL is reachable, on PostgreSQL.
#
#   bash bench/incidents.sh
#
# Environment (optional):
#   BENCH_WORKSPACES  workspaces to create (default 1000)
#   BENCH_PER_STREAM  incidents per workspace and source (default 167)
#   BENCH_PAGE_SIZE   the server's across-workspaces page size (default 500)
#   BENCH_DATABASES   "sqlite postgres" (default), or one of them
#   BENCH_PG_URL      server URL for the PostgreSQL run (default postgres://postgres@127.0.0.1:5432)
#   BENCH_SCANS       0 to skip the full scans (several minutes each at 1,000,000)
#   BENCH_PROFILE     cargo profile directory (default release; "debug" for a quick smoke run)
#   BENCH_NO_BUILD    1 = use the binaries already built
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WORKSPACES="${BENCH_WORKSPACES:-1000}"
PER_STREAM="${BENCH_PER_STREAM:-167}"
PAGE_SIZE="${BENCH_PAGE_SIZE:-500}"
DATABASES="${BENCH_DATABASES:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
SCANS="${BENCH_SCANS:-1}"
PORT=18081
# shellcheck source=bench/lib.sh
. bench/lib.sh

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bench_build

cat > "$WORK/detail.lua" <<'LUA'
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

wrk_run() { # label, then wrk args; prints "rps p99ms"
  local out
  out=$(wrk -t2 -c32 -d10s --latency "$@")
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$non2xx" ] || echo "warning: $non2xx non-2xx responses" >&2
  echo "$rps $p99"
}

for DB in $DATABASES; do
  bench_database "$DB" palisade_incident_bench || continue
  echo "==> $DB: bootstrap"
  bench_bootstrap "Bench MSSP"
  bench_serve "$WORK/server-$DB.log" PALISADE_LOG=info PALISADE_INCIDENTS__PAGE_SIZE="$PAGE_SIZE"

  echo "==> $DB: seeding $WORKSPACES workspaces × 6 sources × $PER_STREAM incidents through the ingest API"
  bench_rss_reset
  bench_load seed \
    --workspaces "$WORKSPACES" --per-stream "$PER_STREAM" --paths "$WORK/paths.txt" | tee "$WORK/seed-$DB.txt"
  INGEST=$(awk '/^INGEST_RATE/ {print $2}' "$WORK/seed-$DB.txt")
  bench_rss_peak "seed (ingest)"
  bench_rss_reset

  # Reads are measured on a settled server: the outbox events of the seed (one per incident)
  # are first worked off by the webhook dispatcher and the gamebook trigger (no webhooks or
  # rules here, so each event is only marked), which otherwise compete with the reads.
  bench_wait_outbox
  bench_rss_peak "outbox drain"
  if [ "$DB" = postgres ]; then
    # Planner statistics, as autovacuum keeps them after a bulk load. Without them (a server
    # with autovacuum off, as on the machines these figures come from) PostgreSQL guesses the
    # organization matches 2% of the incidents and plans the `query` filter as a scan of all.
    AUTOVACUUM=$(psql "$URL" -Atc 'SHOW autovacuum')
    psql "$URL" -qc 'ANALYZE' >/dev/null
    echo "ANALYZE run (this server's autovacuum: $AUTOVACUUM)"
  fi

  echo "==> $DB: hello vs detail (wrk -t2 -c32 -d10s)"
  bench_rss_reset
  wrk -t2 -c32 -d2s "$BASE/api/v2/ping" >/dev/null
  read -r HELLO_RPS HELLO_P99 < <(wrk_run "$BASE/api/v2/ping")
  wrk -t2 -c32 -d2s -H "$AUTH" -s "$WORK/detail.lua" "$BASE" -- "$WORK/paths.txt" >/dev/null
  read -r DETAIL_RPS DETAIL_P99 < <(wrk_run -H "$AUTH" -s "$WORK/detail.lua" "$BASE" -- "$WORK/paths.txt")
  bench_rss_peak "hello + random detail reads"
  CACHE=$(curl -fs "$BASE/metrics" | awk '$1 ~ /^palisade_incident_cache_(entries|bytes|hits_total|misses_total)$/ {sub(/^palisade_incident_cache_/,"",$1); printf "%s=%s ", $1, $2}')
  echo "incident cache after the reads: $CACHE"

  echo "==> $DB: across-workspaces (page size $PAGE_SIZE: first pages and full scans)"
  bench_rss_reset
  bench_load listing --samples 50 $([ "$SCANS" = 0 ] && echo --first-only) --label ", page size $PAGE_SIZE" | tee "$WORK/listing-$DB.txt"
  bench_rss_peak "across-workspaces, page size $PAGE_SIZE"

  bench_stop
  echo "==> $DB: across-workspaces first pages at the default page size (50)"
  bench_serve "$WORK/server-$DB.log" PALISADE_LOG=info
  bench_rss_reset
  bench_load listing --samples 100 --first-only --label ", page size 50" | tee -a "$WORK/listing-$DB.txt"
  bench_rss_peak "across-workspaces, page size 50"
  bench_stop
  SIZE=$(du -sh "$WORK/bench.db" 2>/dev/null | cut -f1 || true)
  {
    echo "[$DB] $((WORKSPACES * 6 * PER_STREAM)) incidents ${SIZE:+(SQLite file $SIZE)}"
    printf '  ingest (batches of %s): %s incidents/s   target >= 5000: %s\n' "$PER_STREAM" "$INGEST" "$(awk -v r="$INGEST" 'BEGIN{print (r>=5000)?"MET":"MISSED"}')"
    printf '  outbox of the seed worked off %s s after it ended\n' "$DRAIN"
    printf '  hello  GET /api/v2/ping:            %8.0f req/s  p99 %6.2f ms\n' "$HELLO_RPS" "$HELLO_P99"
    printf '  detail GET …/incidents/{src}/{id}:  %8.0f req/s  p99 %6.2f ms\n' "$DETAIL_RPS" "$DETAIL_P99"
    echo "  incident cache after the reads: $CACHE"
    awk -v d="$DETAIL_RPS" -v h="$HELLO_RPS" 'BEGIN{r=100*d/h; printf "  detail/hello: %.1f%%   target >= 40%%: %s\n", r, (r>=40)?"MET":"MISSED"}'
    grep -v '^LISTING' "$WORK/listing-$DB.txt" | sed 's/^/  /'
    awk '/^LISTING_FIRST_P99 no filter, page size 50 / {p=$NF; printf "  first page p99 (default page size 50, no filter) %.1f ms   target <= 50 ms: %s\n", p, (p<=50)?"MET":"MISSED"}' "$WORK/listing-$DB.txt"
    bench_rss_summary 300
  } >> "$SUMMARY"
  bench_drop "$DB" palisade_incident_bench
done

echo
echo "==> results (page size $PAGE_SIZE; wrk keep-alive on 127.0.0.1; client and server share 2 cores)"
cat "$SUMMARY"
