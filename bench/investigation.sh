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
# Everything talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS="${BENCH_ROWS:-1000000}"
SAMPLES="${BENCH_SAMPLES:-200}"
DATABASES="${BENCH_DATABASES:-sqlite postgres}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PROFILE="${BENCH_PROFILE:-release}"
PORT=18083
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d /tmp/palisade-invbench.XXXXXX)"
SERVER_PID=""
TARGET="${CARGO_TARGET_DIR:-target}"

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$PROFILE" = release ]; then
  cargo build --release -q -p palisade -p palisade-bench
else
  cargo build -q -p palisade -p palisade-bench
fi
BIN="$TARGET/$PROFILE/palisade"
LOAD="$TARGET/$PROFILE/palisade-bench"

SUMMARY="$WORK/summary.txt"
: > "$SUMMARY"

for DB in $DATABASES; do
  case "$DB" in
    sqlite) URL="sqlite://$WORK/bench.db" ;;
    postgres)
      if ! pg_isready -h 127.0.0.1 -p 5432 -q; then echo "PostgreSQL not reachable; skipping" >&2; continue; fi
      psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_investigation_bench' >/dev/null
      psql "$PG_URL/postgres" -qc 'CREATE DATABASE palisade_investigation_bench' >/dev/null
      URL="$PG_URL/palisade_investigation_bench" ;;
    *) echo "unknown database $DB" >&2; exit 2 ;;
  esac
  echo "==> $DB: bootstrap"
  CRED=$("$BIN" admin bootstrap --org-name "Bench MSSP" --database "$URL")
  ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientId"])' "$CRED")
  SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientSecret"])' "$CRED")
  PALISADE_LOG=warn "$BIN" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>"$WORK/server-$DB.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

  echo "==> $DB: seeding $ROWS sign-in rows through the ingest API, then querying"
  "$LOAD" --base "$BASE" --client-id "$ID" --client-secret "$SECRET" investigation \
    --rows "$ROWS" --samples "$SAMPLES" | tee "$WORK/inv-$DB.txt"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  SIZE=$(du -sh "$WORK/bench.db" 2>/dev/null | cut -f1 || true)
  {
    echo "[$DB] $ROWS sign-in rows ${SIZE:+(SQLite file $SIZE)}"
    grep -v '^INVESTIGATION' "$WORK/inv-$DB.txt" | sed 's/^/  /'
  } >> "$SUMMARY"
  [ "$DB" = postgres ] && psql "$PG_URL/postgres" -qc 'DROP DATABASE IF EXISTS palisade_investigation_bench WITH (FORCE)' >/dev/null
  rm -f "$WORK"/bench.db*
done

echo
echo "==> results ($PROFILE build; sequential requests on 127.0.0.1; client and server share the machine's cores)"
cat "$SUMMARY"
