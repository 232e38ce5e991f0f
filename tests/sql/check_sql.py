#!/usr/bin/env python3
"""Runs every ClickHouse statement of the project on both ClickHouse versions it
must support, and checks they agree:

- a current release in-process (chDB, `pip install chdb-core`), as production runs;
- the local ClickHouse 18.16 over HTTP (EGOV__CLICKHOUSE__URL), as development runs.

The migrations (schemas/clickhouse/*.sql) create the tables in a scratch
database on each; the same fixture rows go into both; every report query
(schemas/clickhouse/queries/*.sql) is rendered the way egov-analytics renders it,
for several periods and unit filters, and must return the expected
figures, identically on both. The queries read the rollups (006_rollups.sql, 007_dossier_days_packed.sql),
so the cases run three times: rows inserted after the migrations (the views
fill the rollups), rows inserted before the rollup migration (its backfill
fills them), and the backfill run a second time over the first (idempotent). Prints 'N passed, N failed' at the end.
"""
import datetime
import os
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "schemas" / "clickhouse").glob("*.sql"))
QUERY_DIR = ROOT / "schemas" / "clickhouse" / "queries"
QUERIES = sorted(QUERY_DIR.glob("*.sql"))
CH_URL = os.environ.get("EGOV__CLICKHOUSE__URL", "http://127.0.0.1:8123")


def statements(sql, database):
    code = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    code = code.replace("{database}", f"`{database}`")
    return [s.strip() for s in code.split(";") if s.strip()]


def strip(template):
    return "\n".join(l for l in template.splitlines() if not l.lstrip().startswith("--"))


def render(template, database, frm, to, units, split="whole"):
    """As egov-analytics renders a template (crates/egov-analytics/src/query.rs):
    comment lines dropped, the database quoted, the dates and unit codes
    where the client binds them (as quoted literals), and, as `split` says
    ("whole" or "months"), {dossier_states}, {month} and {day_month} in their place."""
    states = "dossier_states.sql" if split == "whole" else "dossier_month_states.sql"
    code = strip(template).replace("{dossier_states}", strip((QUERY_DIR / states).read_text()).strip())
    code = code.replace("{month}", "toUInt32(0)" if split == "whole" else "arrayJoin([toUInt32(0), {day_month}])")
    code = code.replace("{day_month}", strip((QUERY_DIR / "day_month.sql").read_text()).strip())
    unit_filter = "1" if units is None else "unit_code IN (%s)" % ", ".join(f"'{u}'" for u in sorted(units))
    return (code.replace("{database}", f"`{database}`").replace("{from}", f"'{frm}'").replace("{to}", f"'{to}'")
            .replace("{unit_filter}", unit_filter))


class Modern:
    name = "chDB (current ClickHouse)"

    def __init__(self):
        import chdb.session
        self.session = chdb.session.Session()

    def run(self, sql):
        return str(self.session.query(sql, "TSV"))

    def version(self):
        return self.run("SELECT version()").strip()


class Old:
    name = "ClickHouse over HTTP"

    def run(self, sql):
        request = urllib.request.Request(CH_URL + "/", data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            raise RuntimeError(error.read().decode()) from error

    def version(self):
        return self.run("SELECT version()").strip()


# Fixture events: (system, event_id, event_type, occurred_at UTC, local_date, unit, level, entity, channel, signed, due_date)
ROWS = [
    ("documents", "d1", "document.received", "2021-03-01 01:00:00", "2021-03-01", "08707", "commune", "VB-1", "paper", 0, None),
    ("documents", "d1", "document.received", "2021-03-01 01:00:00", "2021-03-01", "08707", "commune", "VB-1", "paper", 0, None),
    ("documents", "d2", "document.received", "2021-03-02 01:00:00", "2021-03-02", "08707", "commune", "VB-1", "paper", 0, None),
    ("documents", "d3", "document.issued", "2021-03-03 01:00:00", "2021-03-03", "243", "district", "VB-2", "", 1, None),
    ("documents", "d4", "document.issued", "2021-03-04 01:00:00", "2021-03-04", "243", "district", "VB-3", "", 0, None),
    ("documents", "d5", "document.issued", "2022-01-04 01:00:00", "2022-01-04", "243", "district", "VB-4", "", 1, None),
    # carried over from 2020, resolved on time in 2021
    ("onestop", "o1", "dossier.received", "2020-12-20 01:00:00", "2020-12-20", "244", "district", "H1", "online", 0, "2021-01-05"),
    ("onestop", "o2", "dossier.resolved", "2021-01-05 01:00:00", "2021-01-05", "244", "district", "H1", "", 0, None),
    # closed before the period: not carried over
    ("onestop", "o3", "dossier.received", "2020-12-01 01:00:00", "2020-12-01", "244", "district", "H2", "direct", 0, "2020-12-10"),
    ("onestop", "o4", "dossier.resolved", "2020-12-09 01:00:00", "2020-12-09", "244", "district", "H2", "", 0, None),
    # received in the period; supplement moves the due date; resolved late against the old, on time against the new
    ("onestop", "o5", "dossier.received", "2021-02-01 01:00:00", "2021-02-01", "08734", "commune", "H3", "online", 0, "2021-02-10"),
    ("onestop", "o6", "dossier.supplement_requested", "2021-02-03 01:00:00", "2021-02-03", "08734", "commune", "H3", "", 0, None),
    ("onestop", "o7", "dossier.supplement_received", "2021-02-05 01:00:00", "2021-02-05", "08734", "commune", "H3", "", 0, "2021-02-20"),
    ("onestop", "o8", "dossier.resolved", "2021-02-20 01:00:00", "2021-02-20", "08734", "commune", "H3", "", 0, None),
    # paused at the end: pending in time although past due
    ("onestop", "o9", "dossier.received", "2021-03-01 01:00:00", "2021-03-01", "08734", "commune", "H4", "direct", 0, "2021-03-05"),
    ("onestop", "o10", "dossier.supplement_requested", "2021-03-02 01:00:00", "2021-03-02", "08734", "commune", "H4", "", 0, None),
    # overdue
    ("onestop", "o11", "dossier.received", "2021-03-01 01:00:00", "2021-03-01", "000.00.02.H62", "province", "H5", "postal", 0, "2021-03-05"),
    # refused: received counts, nothing else
    ("onestop", "o12", "dossier.received", "2021-03-01 01:00:00", "2021-03-01", "000.00.02.H62", "province", "H6", "online", 0, "2021-03-05"),
    ("onestop", "o13", "dossier.refused", "2021-03-02 01:00:00", "2021-03-02", "000.00.02.H62", "province", "H6", "", 0, None),
    # resolved early, event resent
    ("onestop", "o14", "dossier.received", "2021-03-01 01:00:00", "2021-03-01", "000.00.02.H62", "province", "H7", "direct", 0, "2021-03-05"),
    ("onestop", "o15", "dossier.resolved", "2021-03-03 01:00:00", "2021-03-03", "000.00.02.H62", "province", "H7", "", 0, None),
    ("onestop", "o15", "dossier.resolved", "2021-03-03 01:00:00", "2021-03-03", "000.00.02.H62", "province", "H7", "", 0, None),
    # resolved after the period ends: pending
    ("onestop", "o16", "dossier.received", "2021-03-10 01:00:00", "2021-03-10", "000.00.02.H62", "province", "H8", "direct", 0, "2021-04-20"),
    ("onestop", "o17", "dossier.resolved", "2021-04-01 01:00:00", "2021-04-01", "000.00.02.H62", "province", "H8", "", 0, None),
    # late over New Year 2022: 2021-12-31, (Sat 1 Jan, Sun 2 Jan, Mon 3 Jan in lieu), 4 and 5 Jan: 3 working days
    ("onestop", "o18", "dossier.received", "2021-12-28 01:00:00", "2021-12-28", "08737", "commune", "H9", "direct", 0, "2021-12-30"),
    ("onestop", "o19", "dossier.resolved", "2022-01-05 01:00:00", "2022-01-05", "08737", "commune", "H9", "", 0, None),
    # a supplement across a month's end: past due on 30 April but paused; due again 25 May, still open
    ("onestop", "o20", "dossier.received", "2021-04-20 01:00:00", "2021-04-20", "08740", "commune", "H10", "direct", 0, "2021-04-29"),
    ("onestop", "o21", "dossier.supplement_requested", "2021-04-28 01:00:00", "2021-04-28", "08740", "commune", "H10", "", 0, None),
    ("onestop", "o22", "dossier.supplement_received", "2021-05-03 01:00:00", "2021-05-03", "08740", "commune", "H10", "", 0, "2021-05-25"),
]

COLUMNS = ("system, event_id, event_type, occurred_at, occurred_ms, local_date, unit_code, level, district_code, "
           "entity_id, channel, procedure_code, signed, due_ms, due_date, payload, ingested_ms")


def insert_sql(database):
    values = []
    for i, (system, eid, etype, occurred, local, unit, level, entity, channel, signed, due) in enumerate(ROWS):
        due_sql = "NULL" if due is None else f"'{due}'"
        # occurred_ms is occurred_at's, as egov load stores it (local_date is its
        # day in UTC+7; the dossier rollup reads a receipt's date from it), plus
        # the row index in ms so that no two events share a time.
        ms = int(datetime.datetime.fromisoformat(occurred + "+00:00").timestamp()) * 1000 + i
        values.append(f"('{system}', '{eid}', '{etype}', '{occurred}', {ms}, '{local}', '{unit}', "
                      f"'{level}', '', '{entity}', '{channel}', '', {signed}, NULL, {due_sql}, '{{}}', {i})")
    return f"INSERT INTO `{database}`.events ({COLUMNS}) VALUES " + ", ".join(values)


def holidays_sql(database):
    """The holidays as `egov migrate` loads them."""
    import csv
    with open(ROOT / "seeds" / "holidays.csv", newline="", encoding="utf-8") as f:
        dates = [row["date"] for row in csv.DictReader(f)]
    return f"INSERT INTO `{database}`.holidays (date, name) VALUES " + ", ".join(f"('{d}', '')" for d in dates)


# (query, from, to, units) -> expected TSV; every report query is per unit (with its level)
CASES = [
    # month (0: the whole period), level, unit, incoming, outgoing, outgoing_signed
    ("documents", "2021-01-01", "2021-12-31", None, "0\tcommune\t08707\t1\t0\t0\n0\tdistrict\t243\t0\t2\t1\n"),
    ("documents", "2021-03-02", "2021-03-03", None, "0\tcommune\t08707\t1\t0\t0\n0\tdistrict\t243\t0\t1\t1\n"),
    ("documents", "2021-01-01", "2021-12-31", {"243"}, "0\tdistrict\t243\t0\t2\t1\n"),
    # month, level, unit, received, carried_over, early, on_time, late, pending_in_time, pending_overdue, online
    ("dossiers", "2021-01-01", "2021-03-20", None,
     "0\tcommune\t08734\t2\t0\t0\t1\t0\t1\t0\t1\n0\tdistrict\t244\t0\t1\t0\t1\t0\t0\t0\t0\n"
     "0\tprovince\t000.00.02.H62\t4\t0\t1\t0\t0\t1\t1\t1\n"),
    ("dossiers", "2021-01-01", "2021-12-31", {"000.00.02.H62"},
     "0\tprovince\t000.00.02.H62\t4\t0\t2\t0\t0\t0\t1\t1\n"),
    ("raw", "SELECT dossier_id, status, working_days_late FROM {database}.dossier_state "
            "WHERE resolved OR refused ORDER BY dossier_id", None, None,
     "H1\tresolved_on_time\t0\nH2\tresolved_early\t0\nH3\tresolved_on_time\t0\nH6\trefused\t0\n"
     "H7\tresolved_early\t0\nH8\tresolved_early\t0\nH9\tresolved_late\t3\n"),
    ("dossiers", "2021-02-01", "2021-02-15", None,
     "0\tcommune\t08734\t1\t0\t0\t0\t0\t1\t0\t1\n0\tdistrict\t244\t0\t0\t0\t0\t0\t0\t0\t0\n"),
    # dossier, procedure, received, due, resolved ('' = still open), working days late: one unit,
    # exactly its resolved_late + pending_overdue of dossiers.sql for the same period.
    # H5: due Fri 5 Mar, open on 20 Mar: 8-12 and 15-19 March, 10 working days.
    ("late_dossiers", "2021-01-01", "2021-03-20", {"000.00.02.H62"},
     "H5\t\t2021-03-01\t2021-03-05\t\t10\n"),
    # H9: resolved late over New Year 2022 (as the view above counts it).
    ("late_dossiers", "2021-12-01", "2022-01-31", {"08737"},
     "H9\t\t2021-12-28\t2021-12-30\t2022-01-05\t3\n"),
    # H3: on time against its new due date; H4: paused; so nothing late.
    ("late_dossiers", "2021-01-01", "2021-12-31", {"08734"}, ""),
    # H5 is due on `to` itself: overdue at the end of that day, 0 working days after its due date.
    ("late_dossiers", "2021-03-01", "2021-03-05", {"000.00.02.H62"},
     "H5\t\t2021-03-01\t2021-03-05\t\t0\n"),
    # unit, system, the latest occurred_ms dated on or before `to` (occurred_at in ms, + the row's index):
    # H6 refused on 2 March (row 18), VB-1 on 2 March (row 2), H4 paused on 2 March (row 15), H1 resolved 5 January (row 7)
    ("last_events", "2021-03-02", "2021-03-02", None,
     "000.00.02.H62\tonestop\t1614646800018\n08707\tdocuments\t1614646800002\n"
     "08734\tonestop\t1614646800015\n244\tonestop\t1609808400007\n"),
]


# The period (month 0) and each calendar month in one query (split "months"), with the
# expected rows: H10 above.
MONTH_CASES = [
    ("dossiers", "2021-04-15", "2021-06-10", {"08740"},
     "0\tcommune\t08740\t1\t0\t0\t0\t0\t0\t1\t0\n"
     "1\tcommune\t08740\t1\t0\t0\t0\t0\t1\t0\t0\n2\tcommune\t08740\t0\t1\t0\t0\t0\t0\t1\t0\n"
     "3\tcommune\t08740\t0\t1\t0\t0\t0\t0\t1\t0\n"),
    ("documents", "2021-02-15", "2021-03-03", None,
     "0\tcommune\t08707\t1\t0\t0\n0\tdistrict\t243\t0\t1\t1\n"
     "2\tcommune\t08707\t1\t0\t0\n2\tdistrict\t243\t0\t1\t1\n"),
]

# Periods whose months and whole, counted in one query, must equal each counted alone:
# month-aligned or not, one month or one day, starting after a dossier's receipt
# (H1, H9, H10), with supplements across month ends (H10), over a year's end (H9).
MONTH_PERIODS = [
    ("2021-01-01", "2021-12-31", None),
    ("2020-12-01", "2022-01-31", None),
    ("2021-02-15", "2021-03-20", None),
    ("2021-03-01", "2021-03-31", None),
    ("2021-03-02", "2021-03-02", None),
    ("2021-01-03", "2021-02-10", {"244"}),
    ("2021-04-21", "2021-06-30", {"08740", "08734"}),
    ("2021-12-29", "2022-02-01", {"08737"}),
    ("2021-02-04", "2021-04-01", {"000.00.02.H62", "08734"}),
]


def calendar_months(frm, to):
    """The calendar months of frm..to, cut to it (egov_analytics::query::months)."""
    out, start = [], datetime.date.fromisoformat(frm)
    end = datetime.date.fromisoformat(to)
    while start <= end:
        following = datetime.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        out.append((start.isoformat(), min(following - datetime.timedelta(days=1), end).isoformat()))
        start = following
    return out


def counted(rows):
    """The rows of the period (month 0) and those of a month with some count (split "months"
    leaves out a unit whose counts are all zero in a month)."""
    return "".join(row + "\n" for row in rows.splitlines()
                   if row.startswith("0\t") or any(v != "0" for v in row.split("\t")[3:]))


def check_months(engines, database, tag):
    """The per-month query (split "months") against MONTH_CASES, and against the period
    and each month queried alone for MONTH_PERIODS; returns (passed, failed)."""
    passed = failed = 0
    templates = {path.stem: path.read_text() for path in QUERIES}
    cases = [(name, frm, to, units, expected) for name, frm, to, units, expected in MONTH_CASES]
    cases += [(name, frm, to, units, None) for frm, to, units in MONTH_PERIODS for name in ("documents", "dossiers")]
    for name, frm, to, units, expected in cases:
        results, wanted = [], []
        for engine in engines:
            try:
                results.append(counted(engine.run(render(templates[name], database, frm, to, units, "months"))))
                alone = engine.run(render(templates[name], database, frm, to, units))
                for number, (first, last) in enumerate(calendar_months(frm, to), start=1):
                    rows = engine.run(render(templates[name], database, first, last, units))
                    alone += "".join(f"{number}\t{row.split(chr(9), 1)[1]}\n" for row in rows.splitlines())
                wanted.append(counted(alone) if expected is None else expected)
            except Exception as error:  # noqa: BLE001 - reported as a failure
                results.append(f"ERROR: {error}")
                wanted.append(None)
        ok = all(r == w for r, w in zip(results, wanted)) and len(set(results)) == 1
        label = f"{name} per month {frm}..{to} units={sorted(units) if units else 'all'}" + tag
        if ok:
            passed += 1
            print(f"ok      {label} ({results[0].count(chr(10))} rows)")
        else:
            failed += 1
            print(f"FAILED  {label}")
            for engine, result, want in zip(engines, results, wanted):
                print(f"  {engine.name}: {result!r}\n  expected {want!r}")
    return passed, failed


def check_cases(engines, database, tag):
    """Runs every case of CASES on every engine against `database`; returns (passed, failed)."""
    passed = failed = 0
    templates = {path.stem: path.read_text() for path in QUERIES}
    templates["raw"] = None
    for name, frm, to, units, expected in CASES:
        results = []
        for engine in engines:
            try:
                sql = (frm.replace("{database}", f"`{database}`") if name == "raw"
                       else render(templates[name], database, frm, to, units))
                results.append(engine.run(sql))
            except Exception as error:  # noqa: BLE001 - reported as a failure
                results.append(f"ERROR: {error}")
        ok = all(result == expected for result in results)
        label = (f"view: {frm[:60]}…" if name == "raw"
                 else f"{name} {frm}..{to} units={sorted(units) if units else 'all'}") + tag
        if ok:
            passed += 1
            print(f"ok      {label}")
        else:
            failed += 1
            print(f"FAILED  {label}\n  expected {expected!r}")
            for engine, result in zip(engines, results):
                print(f"  {engine.name}: {result!r}")
    return passed, failed


def main():
    database = "egov_sqlcheck_" + uuid.uuid4().hex[:12]
    engines = []
    try:
        engines.append(Modern())
    except ImportError:
        print("chdb is not installed: pip install chdb-core", file=sys.stderr)
        return 2
    engines.append(Old())
    for engine in engines:
        print(f"{engine.name}: {engine.version()}")
        engine.run(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    # The rollup migrations: 006_rollups and those after it (007 makes
    # dossier_days again, packed).
    first = next(i for i, path in enumerate(MIGRATIONS) if path.stem.endswith("_rollups"))
    rollups = MIGRATIONS[first:]
    backfilled = database + "_backfill"
    try:
        for engine in engines:
            for path in MIGRATIONS:
                for statement in statements(path.read_text(), database):
                    engine.run(statement)
            engine.run(insert_sql(database))
            engine.run(holidays_sql(database))
            # The rollups' backfill: the same rows stored before the rollups
            # existed, then the rollup migration (its views and its backfill).
            engine.run(f"CREATE DATABASE IF NOT EXISTS `{backfilled}`")
            for path in MIGRATIONS[:first]:
                for statement in statements(path.read_text(), backfilled):
                    engine.run(statement)
            engine.run(insert_sql(backfilled))
            engine.run(holidays_sql(backfilled))
            for path in rollups:
                for statement in statements(path.read_text(), backfilled):
                    engine.run(statement)
        passed, failed = check_cases(engines, database, "")
        more = check_months(engines, database, "")
        passed, failed = passed + more[0], failed + more[1]
        more = check_cases(engines, backfilled, " (rows before the rollups, backfilled)")
        passed, failed = passed + more[0], failed + more[1]
        # Every rollup aggregate is idempotent: the backfill run again over
        # rows the views already hold changes no figure. Each table's latest
        # backfill (006's dossier_days one wrote the columns 007 replaced).
        backfills = {}
        for path in rollups:
            for statement in statements(path.read_text(), database):
                if statement.startswith("INSERT"):
                    backfills[statement.split()[2]] = statement
        for engine in engines:
            for statement in backfills.values():
                engine.run(statement)
        more = check_cases(engines, database, " (backfill run twice)")
        passed, failed = passed + more[0], failed + more[1]
        more = check_months(engines, database, " (backfill run twice)")
        passed, failed = passed + more[0], failed + more[1]
        # The dashboard's read-only user (egov migrate): modern ClickHouse has SQL users and
        # parses every statement (chDB runs as a user without the right to create users, so
        # executing one is refused for access, never for syntax); 18.16 has no SQL users, and
        # egov migrate detects it by the missing system.users.
        access = (ROOT / "schemas" / "clickhouse" / "access" / "dashboard_user.sql").read_text()
        code = "\n".join(l for l in access.splitlines() if not l.lstrip().startswith("--"))
        code = (code.replace("{user}", "`egov_sqlcheck_user`").replace("{database}", f"`{database}`")
                .replace("{on_cluster}", "").replace("?", "'" + "0" * 64 + "'"))
        users_table = "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'users'"
        for engine, expected in zip(engines, ("1\n", "0\n")):
            got = engine.run(users_table)
            ok = got == expected
            for statement in ([s.strip() for s in code.split(";") if s.strip()] if expected == "1\n" else []):
                quoted = "'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'"
                try:
                    engine.run(f"SELECT formatQuery({quoted})")  # parses, or raises SYNTAX_ERROR
                    engine.run(statement)
                    result = "ran"
                except Exception as error:  # noqa: BLE001 - judged below
                    result = str(error)
                refused_for_access = "ACCESS_DENIED" in result or "UNKNOWN_ROLE" in result
                if not (result == "ran" or refused_for_access) or "SYNTAX_ERROR" in result:
                    ok = False
                    print(f"  {engine.name}: {statement[:60]}…: {result[:200]}")
            label = f"dashboard read-only user on {engine.name} (system.users: {got.strip()})"
            if ok:
                passed += 1
                print(f"ok      {label}")
            else:
                failed += 1
                print(f"FAILED  {label}")
        # Every query of docs/analytics.md runs on both and gives the same answer.
        import re
        doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
        for number, query in enumerate(re.findall(r"```sql\n(.*?)```", doc, re.S), start=1):
            sql = re.sub(r"\bFROM (dossier_state|events|units|documents_by_day|dossier_days|last_event_by_day)\b", rf"FROM `{database}`.\1", query)
            results = []
            for engine in engines:
                try:
                    results.append(engine.run(sql))
                except Exception as error:  # noqa: BLE001 - reported as a failure
                    results.append(f"ERROR: {error}")
            if not any(r.startswith("ERROR") for r in results) and len(set(results)) == 1 and results[0]:
                passed += 1
                print(f"ok      docs/analytics.md query {number}")
            else:
                failed += 1
                print(f"FAILED  docs/analytics.md query {number}: {results!r}")
    finally:
        for engine in engines:
            engine.run(f"DROP DATABASE IF EXISTS `{database}`")
            engine.run(f"DROP DATABASE IF EXISTS `{backfilled}`")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
