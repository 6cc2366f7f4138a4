# Shared setup of the benchmark scripts (sourced, not run): a work directory removed on exit,
# the binaries, a fresh database per engine, a bootstrapped organization, and the server
# started and stopped on 127.0.0.1. Everything talks only to 127.0.0.1.
#
# Before sourcing, a script sets PORT; it may set BENCH_PROFILE (cargo profile directory:
# release, the default, or debug for a quick smoke run) and BENCH_NO_BUILD=1 (use the
# binaries already built).
# shellcheck shell=bash

BASE="http://127.0.0.1:${PORT:?set PORT before sourcing bench/lib.sh}"
PROFILE="${BENCH_PROFILE:-release}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/$PROFILE/palisade"
LOAD="$TARGET/$PROFILE/palisade-bench"
WORK="$(mktemp -d /tmp/palisade-bench.XXXXXX)"
SUMMARY="$WORK/summary.txt"
: > "$SUMMARY"
SERVER_PID=""

# shellcheck disable=SC2317 # invoked by the EXIT trap
bench_cleanup() {
  bench_stop
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# Builds the server and the load generator (unless BENCH_NO_BUILD=1).
bench_build() {
  [ "${BENCH_NO_BUILD:-0}" = 1 ] && return 0
  if [ "$PROFILE" = release ]; then
    cargo build --release -q -p palisade -p palisade-bench
  else
    cargo build -q -p palisade -p palisade-bench
  fi
}

# bench_database ENGINE NAME: sets URL to a fresh database (a SQLite file in WORK, or the
# PostgreSQL database NAME on PG_URL). Fails, with a note, when PostgreSQL is not reachable.
bench_database() {
  case "$1" in
    sqlite) URL="sqlite://$WORK/bench.db" ;;
    postgres)
      if ! pg_isready -h 127.0.0.1 -p 5432 -q; then echo "PostgreSQL not reachable; skipping" >&2; return 1; fi
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $2 WITH (FORCE)" >/dev/null
      psql "$PG_URL/postgres" -qc "CREATE DATABASE $2" >/dev/null
      URL="$PG_URL/$2" ;;
    *) echo "unknown database $1" >&2; exit 2 ;;
  esac
}

# bench_drop ENGINE NAME: removes what bench_database made.
bench_drop() {
  if [ "$1" = postgres ]; then
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $2 WITH (FORCE)" >/dev/null
  fi
  rm -f "$WORK"/bench.db*
}

# bench_bootstrap ORG_NAME: an organization with an admin credential (ID, SECRET, AUTH).
bench_bootstrap() {
  local cred
  cred=$("$BIN" admin bootstrap --org-name "$1" --database "$URL")
  ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientId"])' "$cred")
  SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["clientSecret"])' "$cred")
  AUTH="Authorization: Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)"
}

# bench_serve LOG [NAME=VALUE…]: starts the server on URL with that environment, its
# stderr appended to LOG, and waits until it answers.
bench_serve() {
  local log="$1"
  shift
  env "$@" "$BIN" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>>"$log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}

bench_stop() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}

# bench_load COMMAND [ARGS…]: the load generator, as the bootstrapped organization.
bench_load() {
  "$LOAD" --base "$BASE" --client-id "$ID" --client-secret "$SECRET" "$@"
}
