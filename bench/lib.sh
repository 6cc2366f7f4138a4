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

# bench_bootstrap ORG_NAME: an organization (ORG) with an admin credential (ID, SECRET, AUTH).
bench_bootstrap() {
  local cred
  cred=$("$BIN" admin bootstrap --org-name "$1" --database "$URL")
  ORG=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["organizationId"])' "$cred")
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

# bench_wait_outbox: waits (up to 20 min) until the outbox events of a seed (one per incident)
# are worked off by the webhook dispatcher and the gamebook trigger, which otherwise compete
# with the reads measured next; sets DRAIN (seconds waited) and prints what is left.
bench_wait_outbox() {
  local start m p1 p2
  start=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    m=$(curl -fs "$BASE/metrics" || true)
    p1=$(awk '$1=="palisade_outbox_events_pending" {print $2}' <<<"$m")
    p2=$(awk '$1=="palisade_gamebook_events_pending" {print $2}' <<<"$m")
    [ "${p1:-1}" = 0 ] && [ "${p2:-1}" = 0 ] && break
    sleep 1
  done
  DRAIN=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.0f", e-s}')
  echo "outbox worked off ${DRAIN} s after the seed (pending: ${p1:-?} webhook, ${p2:-?} gamebook)"
}

bench_stop() {
  bench_rss_stop_sampler
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}

# bench_load COMMAND [ARGS…]: the load generator, as the bootstrapped organization.
bench_load() {
  "$LOAD" --base "$BASE" --client-id "$ID" --client-secret "$SECRET" "$@"
}

# Peak memory of the server per phase. bench_rss_reset starts a phase; bench_rss_peak LABEL
# ends it, printing "RSS_PEAK LABEL <MB> <method>" (and keeping it for bench_rss_summary).
# The kernel's high-water mark (VmHWM in /proc/PID/status) is exact; it is reset for each
# phase by writing 5 to /proc/PID/clear_refs. Where that is not permitted, VmRSS is sampled
# every 100 ms instead (a spike shorter than that can be missed).
RSS_PEAKS=""
bench_rss_reset() {
  [ -n "$SERVER_PID" ] || return 0
  bench_rss_stop_sampler
  if echo 5 2>/dev/null > "/proc/$SERVER_PID/clear_refs"; then
    RSS_METHOD=VmHWM
  else
    RSS_METHOD=sampled
    echo 0 > "$WORK/rss-max"
    (
      max=0
      while kill -0 "$SERVER_PID" 2>/dev/null; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true)
        if [ -n "$v" ] && [ "$v" -gt "$max" ]; then max=$v; echo "$max" > "$WORK/rss-max"; fi
        sleep 0.1
      done
    ) &
    RSS_SAMPLER=$!
  fi
}

bench_rss_stop_sampler() {
  if [ -n "${RSS_SAMPLER:-}" ]; then kill "$RSS_SAMPLER" 2>/dev/null || true; wait "$RSS_SAMPLER" 2>/dev/null || true; fi
  RSS_SAMPLER=""
}

bench_rss_peak() {
  [ -n "$SERVER_PID" ] || return 0
  local kb
  if [ "${RSS_METHOD:-}" = VmHWM ]; then
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
  else
    bench_rss_stop_sampler
    kb=$(cat "$WORK/rss-max")
  fi
  local mb=$((kb / 1024))
  echo "RSS_PEAK $1 $mb ${RSS_METHOD:-sampled}"
  RSS_PEAKS="${RSS_PEAKS}$(printf '    %-34s %5d MB (%s)' "$1" "$mb" "${RSS_METHOD:-sampled}")"$'\n'
  RSS_MAX_MB=$(( mb > ${RSS_MAX_MB:-0} ? mb : ${RSS_MAX_MB:-0} ))
}

# bench_rss_summary TARGET_MB: the peaks of the phases so far, then forgets them.
bench_rss_summary() {
  echo "  server peak RSS per phase:"
  printf '%s' "$RSS_PEAKS"
  awk -v m="${RSS_MAX_MB:-0}" -v t="$1" 'BEGIN{printf "  peak RSS over all phases: %d MB   target <= %d MB: %s\n", m, t, (m<=t)?"MET":"MISSED"}'
  RSS_PEAKS=""
  RSS_MAX_MB=0
}
