#!/usr/bin/env bash
# Investigation benchmark (issue #5): seed 1,000,000 sign-in log rows into one workspace
# through the sign-in ingest API (batches of 1,000, 4 in flight; 1,000 users over 30 days, the
# measured user holding 10,000 of them), then measure GET …/investigation/users/signin-logs
# for that user over the last 24 hours: first page p50/p99, every page of the window, and
# random other users — on SQLite and, when PostgreSQL is reachable, on PostgreSQL.
#
#   bash bench/investigation.sh
#
# Environment (optional):
#   BENCH_ROWS        sign-in rows to seed (default 1000000)
#   BENCH_SAMPLES     query samples (default 200)
#   BENCH_DATABASES   "sqlite postgres" (default), or one of them
#   BENCH_PG_URL      server URL for the PostgreSQL run (default postgres://postgres@127.0.0.1:5432)
#   BENCH_PROFILE     cargo profile directory (default release; "debug" for a quick smoke run)
#   BENCH_NO_BUILD    1 = use the binaries already built
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS="${BENCH_ROWS:-1000000}"
SAMPLES="${BENCH_SAMPLES:-200}"
DATABASES="${BENCH_DATABASES:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PORT=18084
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build

for DB in $DATABASES; do
  bench_database "$DB" palisade_investigation_bench || continue
  echo "==> $DB: bootstrap"
  bench_bootstrap "Bench MSSP"
  bench_serve "$WORK/server-$DB.log" PALISADE_LOG=warn

  echo "==> $DB: seeding $ROWS sign-in rows through the ingest API, then querying"
  bench_load investigation --rows "$ROWS" --samples "$SAMPLES" | tee "$WORK/inv-$DB.txt"
  bench_stop
  SIZE=$(du -sh "$WORK/bench.db" 2>/dev/null | cut -f1 || true)
  {
    echo "[$DB] $ROWS sign-in rows ${SIZE:+(SQLite file $SIZE)}"
    grep -v '^INVESTIGATION' "$WORK/inv-$DB.txt" | sed 's/^/  /'
  } >> "$SUMMARY"
  bench_drop "$DB" palisade_investigation_bench
done

echo
echo "==> results ($PROFILE build; sequential requests on 127.0.0.1; client and server share the machine's cores)"
cat "$SUMMARY"
