#!/usr/bin/env bash
# End-to-end demo: local services up, release build of egov, `egov run` in the background,
# a small sample of events from both source systems pushed through it, then a summary of
# what landed in ClickHouse. egov is left running (pid in .local/run/egov.pid).
# Env: EGOV_DEMO_URL (default http://127.0.0.1:8080) if egov is configured to listen elsewhere.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=${EGOV_DEMO_URL:-http://127.0.0.1:8080}
PORT=${URL##*:}
PORT=${PORT%%/*}
EGOV_LOG="$LOG_DIR/egov-demo.log"

egov_tail() {
  printf -- '--- last lines of %s ---\n' "$EGOV_LOG" >&2
  tail -n 40 "$EGOV_LOG" >&2 || true
}

ch() { clickhouse-client --query "$1"; }

section "local services"
"$DEPLOY_DIR/up.sh"

section "build"
cd "$REPO_ROOT"
ensure_cargo || die "cargo not found on PATH nor via ~/.cargo/env; install Rust (rustup) first"
export_egov_env
cargo build --release -p egov-cli
[[ -x $EGOV_BIN ]] || die "build succeeded but $EGOV_BIN is missing"

section "start egov"
# Only ever one demo instance: it owns the HTTP port.
stop_pid "$EGOV_PID" "$EGOV_MARKER" "older egov demo" 10
if port_open "$PORT"; then
  die "port $PORT is already served by a process that is not the demo egov: $(port_owner "$PORT")"
fi
[[ -f $EGOV_LOG ]] && mv -f "$EGOV_LOG" "$EGOV_LOG.1"
# The demo's senders use the development tokens (`egov scenario sample`); never in production.
EGOV__INGEST__DEV_TOKENS=true spawn "$EGOV_PID" "$EGOV_LOG" "$EGOV_BIN" run
log "egov run: pid $(<"$EGOV_PID"), log $EGOV_LOG"

deadline=$((SECONDS + 60))
until curl -sf --max-time 2 "$URL/healthz" >/dev/null; do
  if ! live_pid "$EGOV_PID" "$EGOV_MARKER" >/dev/null; then
    egov_tail
    rm -f "$EGOV_PID"
    die "egov exited during startup (log above)"
  fi
  if ((SECONDS >= deadline)); then
    egov_tail
    die "egov not healthy at $URL/healthz after 60s (log above)"
  fi
  sleep 1
done
log "egov healthy at $URL"

section "push sample events"
"$EGOV_BIN" scenario sample --url "$URL"

section "wait for rows in ClickHouse"
# Rows arrive via Kafka in batches; wait until the count is non-zero and has not moved
# for three polls in a row (6 s), at most 60 s.
deadline=$((SECONDS + 60))
last=-1 same=0 count=0
while :; do
  # Errors (e.g. the table is not created yet) count as zero rows.
  count=$(ch "SELECT count() FROM egov.events" 2>/dev/null) || count=0
  [[ $count =~ ^[0-9]+$ ]] || count=0
  if ((count > 0 && count == last)); then
    same=$((same + 1))
  else
    same=0
  fi
  last=$count
  ((same >= 3)) && break
  if ((SECONDS >= deadline)); then
    ((count > 0)) && {
      warn "row count still moving after 60s (now $count); showing what is there"
      break
    }
    egov_tail
    die "no rows in egov.events after 60s (egov log above)"
  fi
  sleep 2
done
log "egov.events: $count rows"

section "summary"
summary="SELECT system, event_type, count() AS events FROM egov.events FINAL GROUP BY system, event_type ORDER BY system, event_type"
# FINAL only exists for the *ReplacingMergeTree-like engines; fall back if the table is plain.
clickhouse-client --format PrettyCompact --query "$summary" 2>/dev/null ||
  clickhouse-client --format PrettyCompact --query "${summary/ FINAL/}"

cat <<MSG

egov is still running (pid $(<"$EGOV_PID"), log .local/log/egov-demo.log).
Query the data:
  clickhouse-client --query "SELECT * FROM egov.events LIMIT 10 FORMAT Vertical"
  curl '$EGOV__CLICKHOUSE__URL/?query=SELECT%20count()%20FROM%20egov.events'
Stop (from $REPO_ROOT):
  kill \$(cat .local/run/egov.pid)     # the demo pipeline
  deploy/local/down.sh                # Kafka and ClickHouse (also stops the demo egov)
MSG
