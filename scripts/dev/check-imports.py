#!/usr/bin/env python3
"""Fails when a Swift target imports a module of this package, or a product of its
dependencies, that Package.swift does not list among that target's own dependencies: the CLI
(Sources/certbridge) speaks only CertStore and ArgumentParser, so an `import PKCS11` there fails.

SwiftPM's `--explicit-target-dependency-import-check error` cannot see that: it compares a
target's imports with all of its dependencies, direct and indirect (PKCS11 comes with
CertStore), and skips every target that uses a build-tool plugin (the CLI has VersionStamp).
This reads the direct dependencies from `swift package describe --type json` instead.

  scripts/dev/check-imports.py   exit 1 with one line per import that is not declared (CI runs
                                 this in scripts/test, before the build)
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# `import X`, `@testable import X`, `internal import X`, `import struct X.Y`: one module path and
# nothing after it (so a line of help text that starts with "import" is not taken for one).
IMPORT = re.compile(
    r"^\s*(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+"
    r"(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_]\w*)(?:\.\w+)*\s*(?://.*)?$"
)


def main():
    described = subprocess.run(
        ["swift", "package", "describe", "--type", "json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    targets = json.loads(described[described.index("{"):])["targets"]
    # The modules a target could reach only by declaring them: our own targets (by module name)
    # and the products of our dependencies (their module names are the product names).
    ours = {t["c99name"]: t["name"] for t in targets}
    products = {p for t in targets for p in t.get("product_dependencies") or []}
    checked = set(ours) | products
    failures = []
    for target in targets:
        if target.get("module_type") != "SwiftTarget":
            continue
        declared = set(target.get("product_dependencies") or [])
        declared |= {next((c for c, n in ours.items() if n == d), d) for d in target.get("target_dependencies") or []}
        declared.add(target["c99name"])
        for source in target.get("sources") or []:
            path = os.path.join(target["path"], source)
            with open(os.path.join(ROOT, path), encoding="utf-8") as file:
                for number, line in enumerate(file, 1):
                    match = IMPORT.match(line)
                    if not match or match.group(1) not in checked or match.group(1) in declared:
                        continue
                    failures.append(
                        f"{path}:{number}: error: {target['name']} imports {match.group(1)}, which is not "
                        f"among its dependencies in Package.swift ({', '.join(sorted(declared - {target['c99name']}))})"
                    )
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
