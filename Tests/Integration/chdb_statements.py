"""Runs ClickHouse statements in chDB (a current ClickHouse, in-process) for the Swift tests that check the SQL
of `--query-engine clickhouse` on it (Tests/ClarmQueryTests/ClickHouseQueryEngineChDBTests.swift).

One JSON object a line on stdin, {"sql": "..."}; one a line on stdout, {"text": "..."} (the answer as
TabSeparated) or {"error": "..."}. Ends at the end of stdin; its data directory is a temporary one."""
import json
import shutil
import sys
import tempfile

from chdb import session

directory = tempfile.mkdtemp(prefix="clarm-chdb-")
try:
    db = session.Session(directory)
    for line in sys.stdin:
        try:
            answer = {"text": db.query(json.loads(line)["sql"], "TabSeparated").bytes().decode()}
        except Exception as error:  # the statement's error goes back to the test, which reports it
            answer = {"error": str(error)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
finally:
    shutil.rmtree(directory, ignore_errors=True)
