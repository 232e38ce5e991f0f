#!/usr/bin/env bash
# Start the pipeline as a data center runs it, on one machine, each piece a process of its own,
# installing whatever is missing first (as deploy/local/up.sh does, plus Debian's zookeeper):
#   ZooKeeper                        127.0.0.1:12181 (for ClickHouse replication)
#   Kafka, 3 KRaft brokers+controllers  127.0.0.1:19091-19093 (controllers 19191-19193)
#   ClickHouse, 2 shards x 2 replicas   s1r1 s1r2 s2r1 s2r2: HTTP 18123-18126, native 19001-19004
#   egov ingest x2                   http://127.0.0.1:18080, :18081
#   egov transform x2, egov load x2  /healthz, /readyz, /metrics on 18090-18091, 18092-18093
# State, logs and pid files live in <repo>/.local/cluster/ (EGOV_CLUSTER_DIR); pid files are
# run/<name>.pid. Idempotent: whatever runs is left alone, whatever is not (a killed piece) is
# started. It writes .local/cluster/egov.toml, the configuration of the egov services, with
# which `egov --config .local/cluster/egov.toml report|reconcile|status|dlq` work against the
# cluster. EGOV__* variables in the environment reach every egov service, e.g.
#   EGOV__INGEST__DEV_TOKENS=true deploy/cluster/up.sh
# Env: EGOV_CLUSTER_BIN (the egov binary; default target/release/egov, built when missing),
#      EGOV_CLUSTER_PORT_OFFSET (added to every port), EGOV_CLUSTER_WAIT_SECS (default 120).
# Stop with deploy/cluster/down.sh [--purge].
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  "") ;;
  -h | --help)
    sed -n '2,19s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *) die "unknown argument: $1 (usage: up.sh; down.sh --purge deletes the data)" ;;
esac
WAIT_SECS=${EGOV_CLUSTER_WAIT_SECS:-120}
KAFKA_JAVA_OPTS=(-Xmx384m -Xms128m -XX:+UseG1GC -Djava.awt.headless=true)

render_configs() {
  local n s node
  for n in "${KAFKA_NODES[@]}"; do
    mkdir -p "$CLUSTER_DIR/kafka-$n/log"
    render_tpl "$CLUSTER_DEPLOY_DIR/kafka/server.properties.in" "$CLUSTER_DIR/kafka-$n/server.properties" \
      "NODE_ID=$n" "DATA=$CLUSTER_DIR/kafka-$n/data" "PORT=$(kafka_port "$n")" \
      "CONTROLLER_PORT=$(kafka_controller_port "$n")" "VOTERS=$KAFKA_VOTERS"
    render_tpl "$DEPLOY_DIR/kafka/log4j2.properties.in" "$CLUSTER_DIR/kafka-$n/log4j2.properties" \
      "LOG_DIR=$CLUSTER_DIR/kafka-$n/log"
  done
  mkdir -p "$CLUSTER_DIR/zookeeper/data"
  write_if_changed "$CLUSTER_DIR/zookeeper/zoo.cfg" "# Written by deploy/cluster/up.sh
tickTime=2000
dataDir=$CLUSTER_DIR/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=200
admin.enableServer=false
autopurge.purgeInterval=1"
  for node in "${CH_NODES[@]}"; do
    s=clickhouse-$node
    mkdir -p "$CLUSTER_DIR/$s/data" "$CLUSTER_DIR/$s/log"
    render_tpl "$CLUSTER_DEPLOY_DIR/clickhouse/config.xml.in" "$CLUSTER_DIR/$s/config.xml" \
      "DIR=$CLUSTER_DIR/$s" "HTTP_PORT=$(ch_http_port "$node")" "TCP_PORT=$(ch_tcp_port "$node")" \
      "INTERSERVER_PORT=$(ch_interserver_port "$node")" "CLUSTER=$CH_CLUSTER" \
      "S1R1_TCP=$(ch_tcp_port s1r1)" "S1R2_TCP=$(ch_tcp_port s1r2)" \
      "S2R1_TCP=$(ch_tcp_port s2r1)" "S2R2_TCP=$(ch_tcp_port s2r2)" \
      "ZK_PORT=$ZK_PORT" "SHARD=${node:1:1}" "REPLICA=$node"
    render_tpl "$DEPLOY_DIR/clickhouse/users.xml.in" "$CLUSTER_DIR/$s/users.xml"
  done
}

# The configuration every egov service and tool of the cluster reads (EGOV__* still win).
write_egov_toml() {
  write_if_changed "$EGOV_CONF" "# Written by deploy/cluster/up.sh: the egov configuration of this cluster.
# egov --config $EGOV_CONF report|reconcile|status|dlq ...
[kafka]
brokers = \"$KAFKA_BROKERS\"
# six partitions: each of the two instances of a stage reads three
partitions = 6
replication_factor = 3

[clickhouse]
url = \"http://127.0.0.1:$(ch_http_port s1r1)\"
cluster = \"$CH_CLUSTER\"

# The first instance of each service; up.sh gives the second its own address
# (EGOV__*__LISTEN) and load-2 the replica s1r2 (EGOV__CLICKHOUSE__URL).
[ingest]
listen = \"127.0.0.1:$(egov_port ingest-1)\"

[transform]
listen = \"127.0.0.1:$(egov_port transform-1)\"

[load]
listen = \"127.0.0.1:$(egov_port load-1)\""
}

require_free() { # NAME PORT...
  local name=$1 p
  shift
  for p in "$@"; do
    port_open "$p" && die "$name: port 127.0.0.1:$p is served by a process that is not ours (no live pid in $CLUSTER_RUN): $(port_owner "$p")"
  done
  return 0
}

start_zookeeper() {
  running zookeeper >/dev/null && return 0
  require_free zookeeper "$ZK_PORT"
  spawn "$(pidfile zookeeper)" "$CLUSTER_LOG/zookeeper.log" \
    java -Xmx256m -cp "$ZK_JAR" org.apache.zookeeper.server.ZooKeeperServerMain "$CLUSTER_DIR/zookeeper/zoo.cfg"
  log "zookeeper: started (pid $(<"$(pidfile zookeeper)"))"
}

# A new node's log dir is formatted (the cluster id is shared); one that holds data is kept.
format_kafka() { # N
  local n=$1 conf data cluster_id
  conf=$CLUSTER_DIR/kafka-$n/server.properties
  data=$CLUSTER_DIR/kafka-$n/data
  running "kafka-$n" >/dev/null && return 0
  local opts=("${KAFKA_JAVA_OPTS[@]}" "-Dlog4j2.configurationFile=$CLUSTER_DIR/kafka-$n/log4j2.properties")
  if [[ ! -f $data/meta.properties ]]; then
    [[ ! -e $data || -z $(ls -A "$data") ]] ||
      die "kafka-$n: $data holds files but no meta.properties; deploy/cluster/down.sh --purge starts afresh"
    cluster_id=$(<"$CLUSTER_DIR/kafka-cluster.id")
    mkdir -p "$data"
    log "kafka-$n: formatting $data (cluster id $cluster_id)"
    java "${opts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" \
      >>"$CLUSTER_LOG/kafka-$n.log" 2>&1 || {
      tail -n 20 "$CLUSTER_LOG/kafka-$n.log" >&2
      rm -rf "$data"
      die "kafka-$n: storage format failed"
    }
  fi
}

start_kafka() { # N
  local n=$1 conf
  conf=$CLUSTER_DIR/kafka-$n/server.properties
  running "kafka-$n" >/dev/null && return 0
  require_free "kafka-$n" "$(kafka_port "$n")" "$(kafka_controller_port "$n")"
  local opts=("${KAFKA_JAVA_OPTS[@]}" "-Dlog4j2.configurationFile=$CLUSTER_DIR/kafka-$n/log4j2.properties")
  spawn "$(pidfile "kafka-$n")" "$CLUSTER_LOG/kafka-$n.log" java "${opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$conf"
  log "kafka-$n: started (pid $(<"$(pidfile "kafka-$n")"))"
}

start_clickhouse() { # NODE
  local node=$1
  running "clickhouse-$node" >/dev/null && return 0
  require_free "clickhouse-$node" "$(ch_http_port "$node")" "$(ch_tcp_port "$node")" "$(ch_interserver_port "$node")"
  spawn "$(pidfile "clickhouse-$node")" "$CLUSTER_LOG/clickhouse-$node.log" \
    clickhouse-server "--config-file=$CLUSTER_DIR/clickhouse-$node/config.xml"
  log "clickhouse-$node: started (pid $(<"$(pidfile "clickhouse-$node")"))"
}

start_egov() { # NAME
  local name=$1 service=${1%-*} env=()
  running "$name" >/dev/null && return 0
  require_free "$name" "$(egov_port "$name")"
  env=("EGOV__${service^^}__LISTEN=127.0.0.1:$(egov_port "$name")")
  [[ $service == load ]] && env+=("EGOV__CLICKHOUSE__URL=http://127.0.0.1:$(ch_http_port "$(egov_clickhouse_node "$name")")")
  spawn "$(pidfile "$name")" "$CLUSTER_LOG/$name.log" env "${env[@]}" "$CLUSTER_EGOV_BIN" --config "$EGOV_CONF" "$service"
  log "$name: started (pid $(<"$(pidfile "$name")"))"
}

# wait_for NAME CHECK...: until CHECK succeeds; fails with the process's log when it exits.
wait_for() {
  local name=$1 start=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    if ! running "$name" >/dev/null; then
      tail -n 30 "$CLUSTER_LOG/$name.log" >&2 || true
      die "$name: exited during startup (last lines of $CLUSTER_LOG/$name.log above)"
    fi
    ((SECONDS - start < WAIT_SECS)) || die "$name: not answering after ${WAIT_SECS}s (see $CLUSTER_LOG/$name.log)"
    sleep 0.5
  done
}

kafka_up() { port_open "$(kafka_port "$1")" && kcat -b "127.0.0.1:$(kafka_port "$1")" -L -m 5 | grep -q '3 brokers:'; }
clickhouse_up() { [[ $(ch_query "$1" 'SELECT 1') == 1 ]]; }
egov_up() { curl -sf --max-time 2 "http://127.0.0.1:$(egov_port "$1")/healthz"; }

ensure_egov_bin() {
  [[ -x $CLUSTER_EGOV_BIN ]] && return 0
  [[ -z ${EGOV_CLUSTER_BIN:-} ]] || die "EGOV_CLUSTER_BIN=$EGOV_CLUSTER_BIN is not an executable"
  ensure_cargo || die "cargo not found; install Rust (rustup) or set EGOV_CLUSTER_BIN"
  log "building egov (cargo build --release -p egov-cli)"
  (cd "$REPO_ROOT" && cargo build --release -p egov-cli)
}

main() {
  local t0=$SECONDS n node name need_migrate=0
  [[ $CLUSTER_DIR != *[\&\<\>,]* ]] || die "cluster path must not contain & < > or ,: $CLUSTER_DIR"
  mkdir -p "$CLUSTER_RUN" "$CLUSTER_LOG" "$LOG_DIR"
  exec 9>"$CLUSTER_RUN/lock"
  flock -w 600 9 || die "another up.sh/down.sh holds $CLUSTER_RUN/lock"

  ensure_packages
  ensure_kafka_libs
  ensure_egov_bin
  render_configs
  write_egov_toml
  cd "$CLUSTER_DIR"

  start_zookeeper
  # One cluster id for the three Kafka nodes, made once.
  if [[ ! -s $CLUSTER_DIR/kafka-cluster.id ]]; then
    java "${KAFKA_JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid >"$CLUSTER_DIR/kafka-cluster.id"
  fi
  # Formatting a log dir takes a JVM start each: the three at once.
  local formats=()
  for n in "${KAFKA_NODES[@]}"; do
    format_kafka "$n" &
    formats+=($!)
  done
  for n in "${formats[@]}"; do wait "$n" || die "formatting a Kafka log dir failed (see above)"; done
  for n in "${KAFKA_NODES[@]}"; do start_kafka "$n"; done
  for node in "${CH_NODES[@]}"; do start_clickhouse "$node"; done
  wait_for zookeeper port_open "$ZK_PORT"
  for node in "${CH_NODES[@]}"; do wait_for "clickhouse-$node" clickhouse_up "$node"; done
  for n in "${KAFKA_NODES[@]}"; do wait_for "kafka-$n" kafka_up "$n"; done
  log "zookeeper, 3 Kafka brokers and 4 ClickHouse servers answer ($((SECONDS - t0))s)"

  # The schema first, ON CLUSTER (needs every ClickHouse server): only when a load is to start.
  for name in load-1 load-2; do running "$name" >/dev/null || need_migrate=1; done
  if ((need_migrate)); then
    log "egov migrate (clickhouse.cluster = $CH_CLUSTER)"
    "$CLUSTER_EGOV_BIN" --config "$EGOV_CONF" migrate >>"$CLUSTER_LOG/migrate.log" 2>&1 || {
      tail -n 20 "$CLUSTER_LOG/migrate.log" >&2
      die "egov migrate failed (log above, $CLUSTER_LOG/migrate.log)"
    }
  fi
  for name in "${EGOV_SERVICES[@]}"; do start_egov "$name"; done
  for name in "${EGOV_SERVICES[@]}"; do wait_for "$name" egov_up "$name"; done

  log "up in $((SECONDS - t0))s; data, logs and pid files under $CLUSTER_DIR"
  printf '  %-18s %s\n' zookeeper "127.0.0.1:$ZK_PORT"
  for n in "${KAFKA_NODES[@]}"; do
    printf '  %-18s %s\n' "kafka-$n" "127.0.0.1:$(kafka_port "$n") (controller :$(kafka_controller_port "$n"))"
  done
  for node in "${CH_NODES[@]}"; do
    printf '  %-18s %s\n' "clickhouse-$node" "http://127.0.0.1:$(ch_http_port "$node"), native 127.0.0.1:$(ch_tcp_port "$node") (shard ${node:1:1})"
  done
  for name in "${EGOV_SERVICES[@]}"; do
    printf '  %-18s %s\n' "$name" "http://127.0.0.1:$(egov_port "$name")"
  done
  log "egov tools: $CLUSTER_EGOV_BIN --config $EGOV_CONF report|reconcile|status|dlq ...   stop: deploy/cluster/down.sh"
}

main "$@"
