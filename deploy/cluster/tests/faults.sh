#!/usr/bin/env bash
# Fault tests on a cluster of deploy/cluster/up.sh of its own (own dir, ports + EGOV_CLUSTER_PORT_OFFSET,
# default 50), brought up from nothing and purged at the end. One cluster, four faults in turn,
# each with its own topics, consumer groups and ClickHouse database (the egov services are
# restarted between faults through EGOV__*):
#   broker      kill -9 of the broker leading the most partitions mid-stream, then its restart
#   replicas    kill -9 of one ClickHouse replica of shard 2 for 20 s mid-stream, then of the other
#   shard       both replicas of shard 2 down for 20 s: load holds its batch and retries
#   consumers   kill -9 of one egov load and one egov transform, not restarted
# Each: a random scenario (egov scenario random) posted to both ingest instances, then the
# figures of `egov report --format json` must equal the scenario's independent reference,
# `egov reconcile` must be clean and both replicas of each shard must hold the same rows.
# Prints, per fault, the time to recover, what ingest answered and what was logged, then the
# cluster's peak memory (sum of RSS) and the wall time; also written to $EGOV_CLUSTER_DIR/faults.txt.
# Env: EGOV_CLUSTER_BIN (default target/debug/egov, built), EGOV_FAULTS_SIZE (events per scenario,
# default 4000), EGOV_FAULTS_KEEP=1 keeps the cluster and its dir, EGOV_FAULTS_ONLY="broker shard".
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export EGOV_CLUSTER_DIR="${EGOV_CLUSTER_DIR:-$(mktemp -d /tmp/egov-cluster-faults.XXXXXX)}"
export EGOV_CLUSTER_PORT_OFFSET="${EGOV_CLUSTER_PORT_OFFSET:-50}"
BUILD=0
[[ -n ${EGOV_CLUSTER_BIN:-} ]] || BUILD=1
export EGOV_CLUSTER_BIN="${EGOV_CLUSTER_BIN:-$REPO/target/debug/egov}"
# Only this script's EGOV__* reach the cluster (test.sh exports the local servers' addresses).
for v in $(compgen -e | grep '^EGOV__' || true); do unset "$v"; done
unset EGOV_CONFIG
export EGOV__INGEST__DEV_TOKENS=true
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$REPO/deploy/cluster/lib.sh"

mkdir -p "$EGOV_CLUSTER_DIR"
SIZE=${EGOV_FAULTS_SIZE:-4000}
ONLY=${EGOV_FAULTS_ONLY:-broker replicas shard consumers}
RESULTS="$EGOV_CLUSTER_DIR/faults.txt"
T0=$SECONDS
failures=()
declare -A ROWS=([1]=? [2]=?)
VERIFIED_AFTER=
egov() { "$CLUSTER_EGOV_BIN" --config "$EGOV_CONF" "$@"; }
note() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

cleanup() {
  local rc=$?
  [[ -n ${MEM_PID:-} ]] && kill "$MEM_PID" 2>/dev/null
  if [[ ${EGOV_FAULTS_KEEP:-0} == 1 ]]; then
    log "kept the cluster: EGOV_CLUSTER_DIR=$EGOV_CLUSTER_DIR EGOV_CLUSTER_PORT_OFFSET=$EGOV_CLUSTER_PORT_OFFSET deploy/cluster/down.sh --purge"
  else
    "$REPO/deploy/cluster/down.sh" --purge >/dev/null || warn "down.sh --purge failed"
  fi
  exit "$rc"
}
trap cleanup EXIT

# The cluster's resident memory, every second, the highest sum in $EGOV_CLUSTER_DIR/rss.max (KiB).
sample_memory() {
  local max=0 sum pid name kib
  while :; do
    sum=0
    for name in "${ALL_PROCESSES[@]}"; do
      pid=$(running "$name") || continue
      kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      sum=$((sum + ${kib:-0}))
    done
    ((sum > max)) && max=$sum && echo "$max" >"$EGOV_CLUSTER_DIR/rss.max"
    sleep 1
  done
}

# The egov services with this fault's topics, groups and database (EGOV__* reach them via up.sh).
fresh_pipeline() { # NAME
  local name
  for name in "${EGOV_SERVICES[@]}"; do
    stop_pid "$(pidfile "$name")" "$(marker "$name")" "$name" 10 >/dev/null
    # Each fault's logs on their own.
    [[ -f $CLUSTER_LOG/$name.log ]] && mv "$CLUSTER_LOG/$name.log" "$CLUSTER_LOG/$name.log.before-$1"
  done
  export EGOV__CLICKHOUSE__DATABASE="egov_fault_$1"
  export EGOV__KAFKA__RAW_TOPIC="fault.$1.raw" EGOV__KAFKA__CURATED_TOPIC="fault.$1.curated"
  export EGOV__KAFKA__DLQ_TOPIC="fault.$1.dlq"
  export EGOV__KAFKA__TRANSFORM_GROUP="fault-$1-transform" EGOV__KAFKA__LOAD_GROUP="fault-$1-load"
  "$REPO/deploy/cluster/up.sh" >>"$CLUSTER_LOG/faults-up.log" 2>&1 || {
    tail -n 20 "$CLUSTER_LOG/faults-up.log" >&2
    die "up.sh failed"
  }
  : >"$EGOV_CLUSTER_DIR/push.log"
}

# Posts the scenario of seed $1 to both ingest instances (the same events to each: every event
# arrives twice), again and again until $EGOV_CLUSTER_DIR/stop exists; at least once.
push_loop() { # SEED
  local seed=$1 round=0
  rm -f "$EGOV_CLUSTER_DIR/stop"
  while ((round == 0)) || [[ ! -e $EGOV_CLUSTER_DIR/stop ]]; do
    round=$((round + 1))
    egov scenario random --seed "$seed" --size "$SIZE" --batch-size 50 --concurrency 1 --no-progress \
      --url "http://127.0.0.1:$(egov_port ingest-1)" 2>&1 | sed "s/^/round $round ingest-1: /" >>"$EGOV_CLUSTER_DIR/push.log" &
    egov scenario random --seed "$seed" --size "$SIZE" --batch-size 50 --concurrency 1 --no-progress \
      --url "http://127.0.0.1:$(egov_port ingest-2)" 2>&1 | sed "s/^/round $round ingest-2: /" >>"$EGOV_CLUSTER_DIR/push.log"
    wait $!
  done
}

start_push() { push_loop "$1" & PUSH_PID=$!; }
stop_push() {
  touch "$EGOV_CLUSTER_DIR/stop"
  wait "$PUSH_PID" || true
}

# Until the figures of both periods equal the reference, reconcile is clean and both replicas
# of each shard hold the same rows (at most $2 s). Sets VERIFIED_AFTER (seconds) and ROWS.
verify() { # SEED TIMEOUT
  local seed=$1 timeout=$2 start ok a b shard node db=$EGOV__CLICKHOUSE__DATABASE
  start=$(now)
  egov scenario random --seed "$seed" --size "$SIZE" --print-figures >"$EGOV_CLUSTER_DIR/reference.json"
  while :; do
    ok=1
    egov reconcile >"$EGOV_CLUSTER_DIR/reconcile.txt" 2>&1 || ok=0
    # egov report --format json for each period of the reference, compared as JSON values.
    ((ok)) && python3 - "$CLUSTER_EGOV_BIN" "$EGOV_CONF" "$EGOV_CLUSTER_DIR/reference.json" <<'PY' || ok=0
import json, subprocess, sys
binary, conf, reference = sys.argv[1:]
want = json.load(open(reference))
for figures in want:
    period = figures["period"]
    got = json.loads(subprocess.run([binary, "--config", conf, "report", "--from", period["from"],
        "--to", period["to"], "--format", "json"], check=True, capture_output=True).stdout)
    if got != figures:
        sys.exit(1)
PY
    if ((ok)); then
      for node in "${CH_NODES[@]}"; do
        ch_query "$node" "SYSTEM SYNC REPLICA $db.events_local" >/dev/null || ok=0
      done
      for shard in 1 2; do
        a=$(ch_query "s${shard}r1" "SELECT count() FROM $db.events_local FINAL") || ok=0
        b=$(ch_query "s${shard}r2" "SELECT count() FROM $db.events_local FINAL") || ok=0
        [[ -n $a && $a == "$b" ]] || ok=0
        ROWS[$shard]="$a/$b"
      done
    fi
    ((ok)) && break
    if awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN {exit !(b - a > t)}'; then
      cat "$EGOV_CLUSTER_DIR/reconcile.txt" >&2
      return 1
    fi
    sleep 2
  done
  VERIFIED_AFTER=$(since "$start")
}

# What ingest answered and what the services logged during the fault.
summarize() {
  local name
  note "  ingest answered: $(grep -h 'pushed' "$EGOV_CLUSTER_DIR/push.log" | grep -o '[0-9]* requests, [0-9]* retried' |
    awk '{r += $1; t += $3} END {print r " requests, " t " retried (503/timeouts, resent after Retry-After)"}')"
  for name in "${EGOV_SERVICES[@]}"; do
    local refused warned
    refused=$(grep -c 'request refused' "$CLUSTER_LOG/$name.log" 2>/dev/null || true)
    warned=$(grep -E ' (WARN|ERROR) ' "$CLUSTER_LOG/$name.log" 2>/dev/null | grep -cv 'development tokens' || true)
    ((refused + warned == 0)) && continue
    if [[ $name == load-* ]] && grep -q 'insert failed' "$CLUSTER_LOG/$name.log"; then
      note "  $name: inserts failed from $(grep -m1 'insert failed' "$CLUSTER_LOG/$name.log" | cut -c12-19) to $(grep 'insert failed' "$CLUSTER_LOG/$name.log" | tail -n 1 | cut -c12-19) UTC, the next succeeded at $(awk '/insert failed/ {f = 1; t = ""; next} f && /inserted/ && t == "" {t = substr($1, 12, 8)} END {print t}' "$CLUSTER_LOG/$name.log")"
    fi
    note "  $name: $warned warnings/errors logged$( ((refused)) && echo ", $refused requests refused"); e.g. $(grep -hE ' (WARN|ERROR) ' "$CLUSTER_LOG/$name.log" | grep -v 'development tokens' | sed -E 's/^[^ ]+ +//; s/\x1b\[[0-9;]*m//g' | cut -c1-160 | sort | uniq -c | sort -rn | head -2 | tr -s ' ' | paste -sd';')"
  done
}

run_fault() { # NAME SEED
  local name=$1 seed=$2 rc=0
  [[ " $ONLY " == *" $name "* ]] || return 0
  section "fault: $name"
  fresh_pipeline "$name"
  note "fault $name (seed $seed, $SIZE events per push, to both ingest instances)"
  start_push "$seed"
  sleep 3
  "fault_$name" || rc=$?
  stop_push
  if ((rc == 0)) && verify "$seed" 180; then
    note "  recovered: figures equal to the reference, reconcile clean, replicas equal (rows FINAL shard 1 ${ROWS[1]}, shard 2 ${ROWS[2]}), ${VERIFIED_AFTER}s after the pushes ended"
  else
    note "  FAILED"
    failures+=("$name")
  fi
  summarize
}

fault_broker() {
  local leader t
  leader=$(kcat -b "$KAFKA_BROKERS" -L -J | python3 -c '
import json, sys, collections
meta = json.load(sys.stdin)
leaders = collections.Counter(p["leader"] for t in meta["topics"] for p in t["partitions"])
print(leaders.most_common(1)[0][0])')
  t=$(now)
  kill -9 "$(running "kafka-$leader")"
  note "  killed kafka-$leader (leads the most partitions) mid-stream"
  sleep 10
  "$REPO/deploy/cluster/up.sh" >>"$CLUSTER_LOG/faults-up.log" 2>&1 || return 1
  note "  kafka-$leader restarted by up.sh, answering $(since "$t")s after the kill"
}

# kill -9 of NODE for 20 s, then up.sh restarts it; waits until it replicates again.
down_20s() { # NODE...
  local node t
  t=$(now)
  for node in "$@"; do kill -9 "$(running "clickhouse-$node")"; done
  note "  killed clickhouse-$* for 20 s mid-stream"
  sleep 20
  "$REPO/deploy/cluster/up.sh" >>"$CLUSTER_LOG/faults-up.log" 2>&1 || return 1
  for node in "$@"; do
    until ch_query "$node" "SYSTEM SYNC REPLICA $EGOV__CLICKHOUSE__DATABASE.events_local" >/dev/null 2>&1; do sleep 1; done
  done
  note "  clickhouse-$* back and in sync $(since "$t")s after the kill"
}

fault_replicas() { down_20s s2r1 && down_20s s2r2; }
fault_shard() { down_20s s2r1 s2r2; }

fault_consumers() {
  kill -9 "$(running load-2)" "$(running transform-2)"
  note "  killed load-2 and transform-2 (not restarted): load-1 and transform-1 take their partitions"
  sleep 15
}

main() {
  section "cluster up (from nothing, in $EGOV_CLUSTER_DIR, ports +$EGOV_CLUSTER_PORT_OFFSET)"
  if ((BUILD)); then
    ensure_cargo || die "cargo not found"
    (cd "$REPO" && cargo build -q -p egov-cli)
  fi
  : >"$RESULTS"
  local t=$SECONDS
  mkdir -p "$CLUSTER_LOG"
  "$REPO/deploy/cluster/up.sh" >"$CLUSTER_LOG/faults-up.log" 2>&1 || {
    cat "$CLUSTER_LOG/faults-up.log" >&2
    die "up.sh failed"
  }
  note "cluster up from nothing in $((SECONDS - t))s"
  # The cluster DDL on a current ClickHouse too (chDB with this cluster's ZooKeeper).
  if (ensure_venv >/dev/null) && "$VENV_PYTHON" "$REPO/tests/sql/check_cluster_sql.py" --zookeeper "127.0.0.1:$ZK_PORT" \
    >"$CLUSTER_LOG/check_cluster_sql.log" 2>&1; then
    note "cluster DDL on a current ClickHouse (chDB): $(tail -n 1 "$CLUSTER_LOG/check_cluster_sql.log")"
  else
    cat "$CLUSTER_LOG/check_cluster_sql.log" >&2 || true
    note "cluster DDL on a current ClickHouse (chDB): FAILED"
    failures+=(cluster-ddl)
  fi
  sample_memory &
  MEM_PID=$!
  run_fault broker 101
  run_fault replicas 102
  run_fault shard 103
  run_fault consumers 104
  note "peak memory of the cluster (sum of RSS of its 16 processes): $(($(cat "$EGOV_CLUSTER_DIR/rss.max" 2>/dev/null || echo 0) / 1024)) MiB"
  note "wall time: $((SECONDS - T0))s"
  if ((${#failures[@]})); then
    log "FAILED: ${failures[*]} (logs in $CLUSTER_LOG; EGOV_FAULTS_KEEP=1 keeps them)"
    return 1
  fi
  log "all faults passed"
}

main "$@"
