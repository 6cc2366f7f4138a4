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
# Everything talks only to 127.0.0.1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS="${PALISADE_BENCH_RUNS:-2000}"
DATABASES="${PALISADE_BENCH_DATABASES:-sqlite postgres}"
PG_URL="${PALISADE_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PORT=18083
BASE="http://127.0.0.1:$PORT"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET_DIR/release/palisade"
LOAD="$TARGET_DIR/release/palisade-bench"
WORK="$(mktemp -d /tmp/palisade-gb-bench.XXXXXX)"
SERVER_PID=""

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${PALISADE_BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release -q -p palisade -p palisade-bench
fi

SUMMARY="$WORK/summary.txt"
: > "$SUMMARY"
for DB in $DATABASES; do
  case "$DB" in
    sqlite) URL="sqlite://$WORK/bench.db" ;;
    postgres)
      if ! pg_isready -h 127.0.0.1 -p 5432 -q; then echo "PostgreSQL not reachable; skipping" >&2; continue; fi
      psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_gamebook_bench WITH (FORCE)' >/dev/null
      psql "$PG_URL/postgres" -qc 'CREATE DATABASE palisade_gamebook_bench' >/dev/null
      URL="$PG_URL/palisade_gamebook_bench" ;;
    *) echo "unknown database $DB" >&2; exit 2 ;;
  esac
  CRED=$("$BIN" admin bootstrap --org-name "Gamebook bench" --database "$URL")
  ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientId"])' "$CRED")
  SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientSecret"])' "$CRED")
  PALISADE_LOG=warn "$BIN" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>"$WORK/server-$DB.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "==> $DB: $RUNS auto-run gamebooks"
  "$LOAD" --base "$BASE" --client-id "$ID" --client-secret "$SECRET" gamebooks --runs "$RUNS" | tee "$WORK/gb-$DB.txt"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  printf '[%s] %s gamebook runs/s (%s runs, 3 playbooks each)\n' "$DB" \
    "$(awk '/^GAMEBOOK_RUNS_PER_SEC/ {print $2}' "$WORK/gb-$DB.txt")" "$RUNS" >> "$SUMMARY"
  [ "$DB" = postgres ] && psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_gamebook_bench WITH (FORCE)' >/dev/null
  rm -f "$WORK"/bench.db*
done
echo
echo "==> results (client and server share the machine's cores)"
cat "$SUMMARY"
