#!/usr/bin/env bash
# Full local check, also what CI runs (.ci/run): start the local services (up.sh), then
# cargo test, the Python checks (from .local/venv, tests/requirements.txt), the up.sh data test,
# the cluster fault tests (deploy/cluster/tests/faults.sh), rustfmt check, clippy and cargo deny over the
# whole workspace. Every step runs even if an
# earlier one failed (except tests when the services could not start), so one run reports
# all problems; the exit code is non-zero if any step failed. Services are left running.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

failed=()

# step NAME CMD...: run with a header and timing, remember failures instead of exiting.
step() {
  local name=$1 t0=$SECONDS rc=0
  shift
  section "$name"
  printf '+ %s\n' "$*"
  "$@" || rc=$?
  if ((rc == 0)); then
    log "$name: ok ($((SECONDS - t0))s)"
  else
    log "$name: FAILED (exit $rc, $((SECONDS - t0))s)"
    failed+=("$name")
  fi
  return "$rc"
}

cd "$REPO_ROOT"
ensure_cargo || die "cargo not found on PATH nor via ~/.cargo/env; install Rust (rustup) first"
export_egov_env
log "$(cargo --version), $(rustc --version)"
log "EGOV__KAFKA__BROKERS=$EGOV__KAFKA__BROKERS EGOV__CLICKHOUSE__URL=$EGOV__CLICKHOUSE__URL"

locked=()
# --locked in CI keeps the build on the committed lockfile; without one there is nothing to lock to.
[[ -f Cargo.lock ]] && locked=(--locked)

if step "local services (up.sh)" "$DEPLOY_DIR/up.sh"; then
  step "cargo test" cargo test --workspace "${locked[@]}" || true
else
  log "skipping cargo test: the services it needs are not up"
  failed+=("cargo test (skipped)")
fi
# The Python tools below run from .local/venv with the versions pinned in tests/requirements.txt.
# In a subshell: a `die` of ensure_venv fails this step, not the whole run.
install_python_tools() { (ensure_venv); }
if step "Python tools (tests/requirements.txt into .local/venv)" install_python_tools; then
  step "contract schemas and examples (schemas/check_examples.py)" "$VENV_PYTHON" schemas/check_examples.py || true
  # The same SQL on the local ClickHouse 18.16 and on a current release (chDB, in-process).
  step "SQL on ClickHouse 18.16 and current (tests/sql/check_sql.py)" "$VENV_PYTHON" tests/sql/check_sql.py || true
  # The ingest API against its OpenAPI description, property-based (Schemathesis; needs Kafka).
  step "API property test (tests/api/schemathesis.sh)" tests/api/schemathesis.sh || true
else
  failed+=("Python checks (skipped)")
fi
# The Prometheus scrape config and alert rules, and the rules' unit tests (promtool).
step "Prometheus config and alert rules (deploy/prometheus/check.sh)" deploy/prometheus/check.sh || true
# up.sh keeps data unless --purge: on a second instance in a temp dir, other ports.
step "up.sh keeps data (deploy/local/tests/up_keeps_data.sh)" deploy/local/tests/up_keeps_data.sh || true
# The pipeline on a cluster of its own (3 brokers, 2 x 2 ClickHouse, two of each service;
# own dir and ports) under four faults, then purged: deploy/cluster/README.md.
step "cluster fault tests (deploy/cluster/tests/faults.sh)" deploy/cluster/tests/faults.sh || true
step "cargo fmt --check" cargo fmt --all -- --check || true
step "cargo clippy" cargo clippy --workspace --all-targets "${locked[@]}" -- -D warnings || true
# Licences, banned crates, duplicate versions and sources (deny.toml); advisories need a
# database fetched from the network, so they are not checked.
cargo_deny() { ensure_cargo_deny && "$CARGO_DENY" deny check bans licenses sources; }
step "cargo deny (deny.toml)" cargo_deny || true

section "summary"
if ((${#failed[@]})); then
  log "FAILED: $(printf '[%s] ' "${failed[@]}")"
  exit 1
fi
log "all steps passed"
