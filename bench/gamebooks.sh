#!/usr/bin/env bash
# Benchmark: gamebook runs completed per second for simple playbooks (a comment, a label and
# a severity change per run), end to end: a batch of matching incidents is ingested, the
# trigger starts one auto-run gamebook per incident, the workers run them, and the clock stops
# when the last run has succeeded. Runs on SQLite and (when reachable on 127.0.0.1) PostgreSQL.
#
#   bash bench/gamebooks.sh
#
# Environment (all optional):
#   PALISADE_BENCH_RUNS       incidents (= runs) per database (default 2000)
#   PALISADE_BENCH_DATABASES  "sqlite postgres" (default)
#   PALISADE_BENCH_PG_URL     postgres://postgres@127.0.0.1:5432 (default)
#   PALISADE_BENCH_NO_BUILD   1 = use the existing release binaries, don't build
#   BENCH_PROFILE             cargo profile directory (default release; "debug" for a smoke run)
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS="${PALISADE_BENCH_RUNS:-2000}"
DATABASES="${PALISADE_BENCH_DATABASES:-sqlite postgres}"
PG_URL="${PALISADE_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PORT=18083
BENCH_NO_BUILD="${PALISADE_BENCH_NO_BUILD:-${BENCH_NO_BUILD:-0}}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build

for DB in $DATABASES; do
  bench_database "$DB" palisade_gamebook_bench || continue
  bench_bootstrap "Gamebook bench"
  bench_serve "$WORK/server-$DB.log" PALISADE_LOG=warn
  echo "==> $DB: $RUNS auto-run gamebooks"
  bench_load gamebooks --runs "$RUNS" | tee "$WORK/gb-$DB.txt"
  bench_stop
  printf '[%s] %s gamebook runs/s (%s runs, 3 playbooks each)\n' "$DB" \
    "$(awk '/^GAMEBOOK_RUNS_PER_SEC/ {print $2}' "$WORK/gb-$DB.txt")" "$RUNS" >> "$SUMMARY"
  bench_drop "$DB" palisade_gamebook_bench
done
echo
echo "==> results (client and server share the machine's cores)"
cat "$SUMMARY"
