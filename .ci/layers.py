#!/usr/bin/env python3
"""Fails when a module of src/ imports from a layer above its own (DESIGN.md, "Layers").

Each top-level module of src/ belongs to a layer; a module may name (as `crate::x`) only
modules of its own layer or of the layers below it, and never a sibling in the top layer of
clients (the producer, the consumer and the admin client do not use each other):

    clients      producer, consumer, admin
    cluster      cluster
    connection   connection
    protocol     protocol
    foundation   config, error, record, serdes, topic, partitioner, retry, sync

lib.rs, which re-exports the public API, may name everything; other files name an item by
its module (`crate::error::Error`), never through a re-export (`crate::Error`).
Run: python3 .ci/layers.py [src]   (exit status 1 and one line per offending import)
"""

import pathlib
import re
import sys

LAYERS = [
    {"config", "error", "record", "serdes", "topic", "partitioner", "retry", "sync"},
    {"protocol"},
    {"connection"},
    {"cluster"},
    {"producer", "consumer", "admin"},
]
RANK = {module: rank for rank, layer in enumerate(LAYERS) for module in layer}
CLIENTS = LAYERS[-1]

# `crate::x` anywhere in code: use declarations, paths in expressions, and grouped uses
# (`use crate::{a, b}` is spelled out below).
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# A re-export from lib.rs (`crate::Consumer`) would hide which layer an item comes from.
REEXPORT = re.compile(r"\bcrate::([A-Z][A-Za-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def named_modules(text):
    for match in PATH.finditer(text):
        yield match.group(1), text.count("\n", 0, match.start()) + 1
    for match in GROUP.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        for item in match.group(1).split(","):
            name = item.strip().split("::")[0].strip()
            if name:
                yield name, line


def strip_comments(text):
    # Doc and line comments may mention modules without importing them; keep line numbers.
    return re.sub(r"//[^\n]*", "", text)


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    problems = []
    for path in sorted(src.rglob("*.rs")):
        top = path.relative_to(src).parts[0].removesuffix(".rs")
        if top in ("lib", "main"):
            continue
        if top not in RANK:
            problems.append(f"{path}: module {top!r} is in no layer; add it to .ci/layers.py and DESIGN.md")
            continue
        text = strip_comments(path.read_text())
        for match in REEXPORT.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{path}:{line}: crate::{match.group(1)} goes through lib.rs; name its module")
        for name, line in named_modules(text):
            if name not in RANK:
                continue  # crate::Error and other re-exports from lib.rs
            upward = RANK[name] > RANK[top]
            sideways = top in CLIENTS and name in CLIENTS and name != top
            if upward or sideways:
                problems.append(f"{path}:{line}: {top} imports crate::{name}, a layer it may not use")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import(s) break the layering (see DESIGN.md, Layers)", file=sys.stderr)
        return 1
    print("layers: no upward or sideways imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
