"""Checks that every system call a traced run of the gateway made (strace -f output, argv[1]) is allowed by the
unit's filter (SystemCallFilter= lines of deploy/clarm.service, argv[2]), as systemd-analyze expands its groups,
and that no mapping is both writable and executable (MemoryDenyWriteExecute=yes refuses those)."""
import re
import subprocess
import sys


def expand(name, seen=None):
    seen = set() if seen is None else seen
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    listing = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in listing.splitlines()[1:]:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            calls |= expand(entry, seen)
    return calls


allowed = set()
for line in open(sys.argv[2]):
    match = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
    if match:
        names = set().union(*(expand(n) for n in match.group(2).split()))
        allowed = allowed - names if match.group(1) else allowed | names

used = set()
writable_and_executable = []
for line in open(sys.argv[1]):
    if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE", line) and "PROT_EXEC" in line:
        writable_and_executable.append(line.strip())
    match = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if match and not line.split(None, 1)[1].startswith("+++") and not line.split(None, 1)[1].startswith("---"):
        used.add(match.group(1))
# The exec that starts the service happens before the filter applies.
used.discard("execve")
if writable_and_executable:
    sys.exit("mappings MemoryDenyWriteExecute=yes refuses: " + "; ".join(writable_and_executable[:3]))
refused = sorted(used - allowed)
if refused:
    sys.exit("system calls the unit's SystemCallFilter= refuses: " + ", ".join(refused))
print("%d system calls used, all allowed by the unit's filter" % len(used))
