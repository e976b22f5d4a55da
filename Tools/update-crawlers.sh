#!/usr/bin/env bash
# Refreshes the vendored crawler list (Sources/ClarmBots/Assets/) from the latest `crawler-user-agents` release
# on PyPI, which ships the project's crawler-user-agents.json and its MIT licence. Then run the ClarmBots tests:
# they fail if a new pattern uses a regular-expression feature the matcher does not implement.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --dest "$work" crawler-user-agents
wheel="$(ls "$work"/crawler_user_agents-*.whl)"
python3 - "$wheel" Sources/ClarmBots/Assets <<'PY'
import json, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    listing = next(n for n in names if n.endswith("/crawler-user-agents.json"))
    licence = next(n for n in names if n.endswith("/LICENSE"))
    entries = json.loads(archive.read(listing))
    assert isinstance(entries, list) and all(isinstance(e.get("pattern"), str) for e in entries), "unexpected list format"
    with open(f"{target}/crawler-user-agents.json", "wb") as out:
        out.write(archive.read(listing))
    with open(f"{target}/LICENSE.crawler-user-agents", "wb") as out:
        out.write(archive.read(licence))
print(f"{len(entries)} patterns from {wheel.rsplit('/', 1)[-1]}")
PY
swift build --build-tests
swift test --skip-build --filter ClarmBotsTests
