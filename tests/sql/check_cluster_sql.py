#!/usr/bin/env python3
"""The cluster-mode migrations (schemas/clickhouse/cluster/*.sql and the view of
004_dossier_state.sql, rendered as egov-tools' migrate_cluster.rs renders them) on a
current ClickHouse release (chDB), so that they run in production as they run on
the 18.16 cluster of deploy/cluster (where deploy/cluster/tests/faults.sh applies them
with `egov migrate`):

- every statement, `ON CLUSTER` included, parses (formatQuery);
- every statement runs without `ON CLUSTER` (clickhouse-local has no distributed DDL
  queue) on chDB configured with a cluster `egov`, the <macros> and the ZooKeeper given
  with --zookeeper HOST:PORT (deploy/cluster's): the Replicated*MergeTree tables
  register in ZooKeeper, the Distributed table resolves its cluster and sharding key;
  the rollups' backfills (INSERT … SELECT through Distributed tables) are parsed only.

Usage: check_cluster_sql.py --zookeeper 127.0.0.1:12181. Prints 'N passed, N failed'.
"""
import argparse
import re
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "egov"
MIGRATIONS = sorted((ROOT / "schemas" / "clickhouse" / "cluster").glob("*.sql")) + [
    ROOT / "schemas" / "clickhouse" / "004_dossier_state.sql"
]

ROLLUPS = ("documents_by_day", "dossier_days", "last_event_by_day")


def statements(sql, database):
    """As migrate.rs `statements` and migrate_cluster.rs `cluster_statements`."""
    code = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    code = code.replace("{database}", f"`{database}`")
    out = []
    for s in (s.strip() for s in code.split(";")):
        if not s:
            continue
        s = s.replace("{cluster}", CLUSTER).replace("{zookeeper}", f"/clickhouse/tables/{database}")
        if " ON CLUSTER " not in s:
            s = re.sub(r"^(CREATE (?:VIEW|TABLE) IF NOT EXISTS \S+)", rf"\1 ON CLUSTER {CLUSTER}", s)
        out.append(s)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zookeeper", required=True, help="HOST:PORT")
    args = parser.parse_args()
    host, port = args.zookeeper.rsplit(":", 1)
    import chdb

    config = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
    config.write(f"""<clickhouse>
  <remote_servers><{CLUSTER}>
    <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>9000</port></replica></shard>
  </{CLUSTER}></remote_servers>
  <macros><shard>1</shard><replica>chdb-{uuid.uuid4().hex[:8]}</replica></macros>
  <zookeeper><node><host>{host}</host><port>{port}</port></node></zookeeper>
</clickhouse>""")
    config.close()
    connection = chdb.connect(f":memory:?config-file={config.name}")
    cursor = connection.cursor()

    def run(sql):
        cursor.execute(sql)
        return cursor.fetchall()

    print("chDB", run("SELECT version()")[0][0], "with ZooKeeper", args.zookeeper)
    database = f"egov_cluster_check_{uuid.uuid4().hex[:8]}"
    passed = failed = 0
    run(f"CREATE DATABASE `{database}`")
    try:
        for path in MIGRATIONS:
            for statement in statements(path.read_text(), database):
                head = statement.splitlines()[0][:90]
                try:
                    formatted = run("SELECT formatQuery(%s)" % quote(statement))[0][0]
                    if statement.startswith("INSERT"):
                        # A backfill reads and writes through the Distributed tables, whose
                        # one shard here is a server without this database: parsed only.
                        assert formatted.startswith("INSERT INTO"), formatted
                    else:
                        assert f"ON CLUSTER {CLUSTER}" in formatted, formatted
                        run(statement.replace(f" ON CLUSTER {CLUSTER}", ""))
                    passed += 1
                    print(f"ok   {path.name}: {head}")
                except Exception as error:  # noqa: BLE001 - reported and counted
                    failed += 1
                    print(f"FAIL {path.name}: {head}\n     {str(error)[:400]}")
        tables = {r[0]: r[1] for r in run(f"SELECT name, engine FROM system.tables WHERE database = '{database}'")}
        want = {"events_local": "ReplicatedReplacingMergeTree", "events": "Distributed",
                "units": "ReplicatedMergeTree", "holidays": "ReplicatedMergeTree", "dossier_state": "View"}
        for rollup in ROLLUPS:
            want |= {f"{rollup}_local": "ReplicatedAggregatingMergeTree", rollup: "Distributed",
                     f"{rollup}_mv": "MaterializedView"}
        # dossier_days holds plain numbers since 007_dossier_days_plain.sql.
        want["dossier_days_local"] = "ReplicatedMergeTree"
        if tables == want:
            passed += 1
            print("ok   tables and engines:", tables)
        else:
            failed += 1
            print("FAIL tables and engines:", tables)
    finally:
        # Drops the replicas from ZooKeeper too.
        views = [f"{rollup}_mv" for rollup in ROLLUPS]
        rollups = [name for rollup in ROLLUPS for name in (rollup, f"{rollup}_local")]
        for table in views + rollups + ["dossier_state", "events", "events_local", "units", "holidays"]:
            try:
                run(f"DROP TABLE IF EXISTS `{database}`.{table} SYNC")
            except Exception as error:  # noqa: BLE001
                print(f"cleanup of {table}: {error}")
        run(f"DROP DATABASE IF EXISTS `{database}`")
        Path(config.name).unlink()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


if __name__ == "__main__":
    sys.exit(main())
