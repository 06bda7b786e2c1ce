#!/usr/bin/env python3
"""List a crate's public API from rustdoc's JSON output, one item a line.

Usage: scripts/public-api.sh CRATE [CARGO ARGS...] > CRATE/public-api.txt

Reads target/doc/<crate>.json (written by scripts/public-api.sh). Walks
the crate from its root module, through public modules and re-exports,
and prints each reachable item with its path: modules, structs and their
public fields, enums and their variants, traits and their items,
functions, constants, statics, type aliases, and the public methods and
associated items of inherent impls. Trait impls are not listed.
"""

import json
import sys


def main():
    path = sys.argv[1]
    with open(path) as f:
        doc = json.load(f)
    index = doc["index"]
    root = doc["root"]
    lines = set()
    first_path = {}

    def inner_kind(item):
        inner = item["inner"]
        return next(iter(inner)) if isinstance(inner, dict) else inner

    def visit(item_id, prefix, name=None):
        item = index.get(str(item_id))
        if item is None:
            # an item of another crate, re-exported
            lines.add(f"re-export {prefix}{name}")
            return
        kind = inner_kind(item)
        inner = item["inner"][kind] if isinstance(item["inner"], dict) else None
        name = name or item.get("name")
        if kind == "use":
            target = inner.get("id")
            if inner.get("is_glob"):
                target_item = index.get(str(target)) if target is not None else None
                if target_item and inner_kind(target_item) == "module":
                    for child in target_item["inner"]["module"]["items"]:
                        c = index.get(str(child))
                        if c and c.get("visibility") == "public":
                            visit(child, prefix)
                return
            if target is None:
                lines.add(f"re-export {prefix}{inner['name']} = {inner['source']}")
                return
            visit(target, prefix, inner["name"])
            return
        path = prefix + name
        if item_id in first_path:
            # the same item under a second path: listed once, as an alias
            if first_path[item_id] != path:
                lines.add(f"re-export {path} = {first_path[item_id]}")
            return
        first_path[item_id] = path
        if kind == "module":
            lines.add(f"mod {path}")
            for child in inner["items"]:
                c = index.get(str(child))
                if c is None or c.get("visibility") == "public":
                    visit(child, path + "::")
            return
        lines.add(f"{kind} {path}")
        if kind == "struct":
            fields = inner["kind"]
            if isinstance(fields, dict) and "plain" in fields:
                for fid in fields["plain"]["fields"]:
                    f = index[str(fid)]
                    if f.get("visibility") == "public":
                        lines.add(f"field {path}::{f['name']}")
            impls = inner.get("impls", [])
        elif kind == "enum":
            for vid in inner["variants"]:
                lines.add(f"variant {path}::{index[str(vid)]['name']}")
            impls = inner.get("impls", [])
        elif kind == "trait":
            for tid in inner["items"]:
                t = index[str(tid)]
                lines.add(f"trait-item {path}::{t['name']}")
            impls = []
        else:
            impls = []
        for iid in impls:
            impl = index.get(str(iid))
            if impl is None:
                continue
            body = impl["inner"]["impl"]
            if body.get("trait") is not None or body.get("is_synthetic"):
                continue
            for mid in body["items"]:
                m = index.get(str(mid))
                if m and m.get("visibility") == "public":
                    lines.add(f"{inner_kind(m)} {path}::{m['name']}")

    visit(root, "")
    for line in sorted(lines, key=lambda l: (l.split(" ", 1)[1], l)):
        print(line)


if __name__ == "__main__":
    main()
