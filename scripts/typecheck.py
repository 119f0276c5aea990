"""mypy over the domain modules, held to a baseline that only shrinks.

mypy-baseline.txt lists the errors that stand, one per line as `path: [code] message` (no line
numbers, so unrelated edits do not disturb it). A new error fails the check; so does a listed
error that no longer occurs, so the list is kept exact: delete its line (or run with --update
after fixing errors, never to admit new ones).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
PACKAGES = ["core", "geoapp", "kecamatan_boundaries", "incidents", "tracking", "dispatch", "planning", "console"]
ERROR = re.compile(r"^(?P<path>[^:]+):\d+(?::\d+)?: error: (?P<message>.*?)\s+\[(?P<code>[\w-]+)\]$")


def current_errors() -> Counter[str]:
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if run.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(2)
    found: Counter[str] = Counter()
    for line in run.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            found[f"{match['path']}: [{match['code']}] {match['message']}"] += 1
    return found


def main() -> int:
    found = current_errors()
    if "--update" in sys.argv:
        BASELINE.write_text("".join(f"{e}\n" for e in sorted(found.elements())))
        print(f"mypy-baseline.txt: {sum(found.values())} errors")
        return 0
    listed = Counter(line for line in BASELINE.read_text().splitlines() if line.strip())
    new, gone = found - listed, listed - found
    for error in sorted(new.elements()):
        print(f"new: {error}")
    for error in sorted(gone.elements()):
        print(f"fixed, delete from mypy-baseline.txt: {error}")
    if new or gone:
        print(f"typecheck: {sum(new.values())} new, {sum(gone.values())} fixed but still listed", file=sys.stderr)
        return 1
    print(f"typecheck: no new errors ({sum(listed.values())} in the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
