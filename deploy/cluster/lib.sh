# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
# Shared helpers of the deploy/cluster scripts. Sourced, never executed.
# Builds on deploy/local/lib.sh (logging, spawn, live_pid, stop_pid, package and Kafka jar
# installation): the cluster uses the same Kafka jars (.local/kafka/libs) as deploy/local.
# Everything the cluster writes lives under $CLUSTER_DIR (<repo>/.local/cluster). A second,
# separate cluster (deploy/cluster/tests/faults.sh) sets EGOV_CLUSTER_DIR and
# EGOV_CLUSTER_PORT_OFFSET (added to every port below); nothing else should need them.

# shellcheck source-path=SCRIPTDIR source=../local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../local/lib.sh"
CLUSTER_DEPLOY_DIR="$REPO_ROOT/deploy/cluster"
CLUSTER_DIR="${EGOV_CLUSTER_DIR:-$REPO_ROOT/.local/cluster}"
CLUSTER_RUN="$CLUSTER_DIR/run"
CLUSTER_LOG="$CLUSTER_DIR/log"
EGOV_CONF="$CLUSTER_DIR/egov.toml"
# The name of the ClickHouse cluster (remote_servers) and egov's clickhouse.cluster.
CH_CLUSTER=egov

# ZooKeeper is Debian's package (in APT_PACKAGES; jars only, its Class-Path names its dependencies).
ZK_JAR=/usr/share/java/zookeeper.jar

P=${EGOV_CLUSTER_PORT_OFFSET:-0}
[[ $P =~ ^[0-9]+$ ]] || die "EGOV_CLUSTER_PORT_OFFSET must be a number: $P"
ZK_PORT=$((12181 + P))
KAFKA_NODES=(1 2 3)
kafka_port() { echo $((19090 + $1 + P)); }            # 19091..19093: clients
kafka_controller_port() { echo $((19190 + $1 + P)); } # 19191..19193: the KRaft quorum
KAFKA_BROKERS="127.0.0.1:$(kafka_port 1),127.0.0.1:$(kafka_port 2),127.0.0.1:$(kafka_port 3)"
KAFKA_VOTERS="1@127.0.0.1:$(kafka_controller_port 1),2@127.0.0.1:$(kafka_controller_port 2),3@127.0.0.1:$(kafka_controller_port 3)"

# ClickHouse servers: shard s, replica r; index i = 2(s-1)+r.
CH_NODES=(s1r1 s1r2 s2r1 s2r2)
ch_index() { # s1r2 -> 2
  local s=${1:1:1} r=${1:3:1}
  echo $((2 * (s - 1) + r))
}
ch_http_port() { echo $((18122 + $(ch_index "$1") + P)); }       # 18123..18126
ch_tcp_port() { echo $((19000 + $(ch_index "$1") + P)); }        # 19001..19004
ch_interserver_port() { echo $((19010 + $(ch_index "$1") + P)); } # 19011..19014

# egov services: two of each. ingest on 18080/18081, transform 18090/18091, load 18092/18093
# (their /healthz, /readyz, /metrics). Each load writes through a replica of shard 1.
EGOV_SERVICES=(ingest-1 ingest-2 transform-1 transform-2 load-1 load-2)
egov_port() { # ingest-2 -> 18081
  local name=${1%-*} n=${1##*-}
  case $name in
    ingest) echo $((18079 + n + P)) ;;
    transform) echo $((18089 + n + P)) ;;
    load) echo $((18091 + n + P)) ;;
  esac
}
egov_clickhouse_node() { # load-1 -> s1r1, load-2 -> s1r2
  echo "s1r${1##*-}"
}

pidfile() { echo "$CLUSTER_RUN/$1.pid"; }

# What identifies each process in /proc/PID/cmdline (with its pid file, see live_pid).
marker() {
  case $1 in
    kafka-*) echo "kafka.Kafka $CLUSTER_DIR/$1/server.properties" ;;
    zookeeper) echo "ZooKeeperServerMain $CLUSTER_DIR/zookeeper/zoo.cfg" ;;
    clickhouse-*) echo "--config-file=$CLUSTER_DIR/$1/config.xml" ;;
    *) echo "--config $EGOV_CONF ${1%-*}" ;;
  esac
}

# Every process of the cluster, in start order.
ALL_PROCESSES=(zookeeper kafka-1 kafka-2 kafka-3 clickhouse-s1r1 clickhouse-s1r2 clickhouse-s2r1
  clickhouse-s2r2 "${EGOV_SERVICES[@]}")

running() { live_pid "$(pidfile "$1")" "$(marker "$1")"; }

# The egov binary: EGOV_CLUSTER_BIN, else the release build (up.sh builds it when missing).
CLUSTER_EGOV_BIN="${EGOV_CLUSTER_BIN:-$EGOV_BIN}"

# render_tpl SRC DEST KEY=VALUE...: SRC with every @KEY@ replaced. Rewrites DEST only when the
# content changed (ClickHouse reloads a touched config file).
render_tpl() {
  local src=$1 dest=$2 text kv
  shift 2
  text=$(<"$src")
  for kv in "$@"; do
    text=${text//@${kv%%=*}@/"${kv#*=}"}
  done
  ! grep -qE '@[A-Z_0-9]+@' <<<"$text" || die "unreplaced placeholder in $src: $(grep -oE '@[A-Z_0-9]+@' <<<"$text" | head -1)"
  write_if_changed "$dest" "$text"
}

write_if_changed() {
  local dest=$1 text=$2
  if [[ -f $dest ]] && [[ $(<"$dest") == "$text" ]]; then
    return 0
  fi
  printf '%s\n' "$text" >"$dest.tmp"
  mv "$dest.tmp" "$dest"
}

ch_query() { # NODE SQL: prints the result, fails on an HTTP error
  curl -sf --max-time 10 --data-binary "$2" "http://127.0.0.1:$(ch_http_port "$1")/"
}
