#!/usr/bin/env bash
# Property-based test of the ingest API against its own OpenAPI description
# (schemas/openapi.json, served at /openapi.json), with Schemathesis.
#
# Builds `egov`, starts `egov ingest` on a free port with a raw topic of its
# own, runs `schemathesis run` with a bounded number of examples, then stops
# the service and deletes the topic. Needs Kafka (deploy/local/up.sh).
# Fails on any 5xx but the documented 503, an undocumented status, content
# type or header, or an answer that does not match its schema (the allowed
# 503: tests/api/schemathesis.toml; NDJSON bodies: tests/api/hooks.py).
#
# Not checked: negative_data_rejection. By contract (section 1) a request
# whose events are invalid is answered 200 with per-event errors, not 4xx.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 100) per operation and phase.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../../deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/lib.sh"
cd "$REPO_ROOT"
ensure_cargo || die "cargo not found"
export_egov_env

# Schemathesis from .local/venv, pinned in tests/requirements.txt (the flags below are version 4's).
ensure_venv

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)
cargo build --quiet "${locked[@]}" -p egov-cli --bin egov -p egov-tests --bin drop-test-topics
target_dir="${CARGO_TARGET_DIR:-target}"
[[ $target_dir == /* ]] || target_dir="$REPO_ROOT/$target_dir"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
topic="test.schemathesis.$(date +%s).$$.raw"
pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  "$target_dir/debug/drop-test-topics" "$topic" >/dev/null || warn "could not delete topic $topic"
  rm -rf "$work"
}
trap cleanup EXIT

log "egov ingest on 127.0.0.1:$port, raw topic $topic"
EGOV__INGEST__LISTEN="127.0.0.1:$port" EGOV__KAFKA__RAW_TOPIC="$topic" EGOV__INGEST__DEV_TOKENS=true \
  "$target_dir/debug/egov" ingest >"$work/ingest.log" 2>&1 &
pid=$!

base="http://127.0.0.1:$port"
for ((i = 0; i < 300; i++)); do
  curl -sf --max-time 2 "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || {
    cat "$work/ingest.log" >&2
    die "egov ingest exited"
  }
  sleep 0.1
done
curl -sf --max-time 2 "$base/readyz" >/dev/null || {
  cat "$work/ingest.log" >&2
  die "egov ingest is not ready after 30 s"
}

rc=0
(
  # Schemathesis writes its reports and example database under the working directory.
  cd "$work"
  SCHEMATHESIS_HOOKS="$REPO_ROOT/tests/api/hooks.py" timeout 150 schemathesis --config-file "$REPO_ROOT/tests/api/schemathesis.toml" \
    run "$base/openapi.json" \
    --header "Authorization: Bearer local-onestop" \
    --checks all \
    --exclude-checks negative_data_rejection \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
    --request-timeout 35 \
    --generation-database none \
    --no-color
) || rc=$?
if ((rc != 0)); then
  log "the ingest log of the run:"
  tail -n 50 "$work/ingest.log"
fi
exit "$rc"
