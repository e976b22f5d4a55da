#!/usr/bin/env bash
# Refreshes the vendored referrer list (Sources/ClarmQuery/Assets/referers.json) from Snowplow's
# referer-parser data as the Python package `referer-parser` ships it (Apache License 2.0, see
# vendor/referer-parser/). Usage: Tools/update-referrers.sh [VERSION]   (default: the newest release)
# Afterwards: review `git diff`, run the tests (the reference reads the same file), commit.
set -euo pipefail
cd "$(dirname "$0")/.."

spec="referer-parser${1:+==$1}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --no-binary :all: --dest "$work" "$spec"
archive=$(ls "$work"/referer-parser-*.tar.gz)
tar -xzf "$archive" -C "$work"
source_dir=$(ls -d "$work"/referer-parser-*/)
data="$source_dir/referer_parser/data/referers.json"
# Refuse anything that is not the expected shape: {medium: {name: {"domains": [...]}}}.
python3 - "$data" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
assert isinstance(data, dict) and data, "not an object of media"
for medium, names in data.items():
    for name, entry in names.items():
        assert isinstance(entry.get("domains"), list) and entry["domains"], f"{medium}/{name}: no domains"
        assert all(isinstance(d, str) and d for d in entry["domains"]), f"{medium}/{name}: bad domain"
PY
cp "$data" Sources/ClarmQuery/Assets/referers.json
version=$(basename "$archive" .tar.gz)
sum=$(sha256sum "$archive" | cut -d' ' -f1)
sed -i -e "s|^- Release: .*|- Release: \`$version\` (sha256 \`$sum\`)|" vendor/referer-parser/README.md
echo "updated Sources/ClarmQuery/Assets/referers.json from $version" >&2
