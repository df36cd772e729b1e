"""Compare two junit XML reports of the same suite: counts and the tests whose outcome differs."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def outcomes(path: str) -> dict[str, str]:
    """``{"module::Class::test[param]": "passed" | "failed" | "skipped"}``."""
    found: dict[str, str] = {}
    for case in ET.parse(path).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            found[name] = "failed"
        elif "skipped" in kinds:
            found[name] = "skipped"
        else:
            found[name] = "passed"
    return found


def main(bare_path: str, wrapped_path: str) -> int:
    bare, wrapped = outcomes(bare_path), outcomes(wrapped_path)
    for label, runs in (("bare", bare), ("wrapped", wrapped)):
        kinds = ("passed", "failed", "skipped")
        counts = {kind: sum(1 for v in runs.values() if v == kind) for kind in kinds}
        print(f"{label:8} {len(runs)} tests: {counts}")
    differ = sorted(n for n in bare.keys() | wrapped.keys() if bare.get(n) != wrapped.get(n))
    for name in differ:
        print(f"DIFF {name}: bare={bare.get(name)} wrapped={wrapped.get(name)}")
    print(f"{len(differ)} differences")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
