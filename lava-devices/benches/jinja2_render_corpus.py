#!/usr/bin/env python3
"""Jinja2's side of `cargo bench -p lava-devices --bench render_corpus`.

Renders the same 362 cases of the LAVA corpus with the environments of the
corpus's own render_reference.py (LAVA's settings: FileSystemLoader, then
trim_blocks, no autoescape) and prints renders per second, warm (one
environment kept, templates cached, auto_reload checks as in LAVA) and cold
(new environments every round).

usage: python3 jinja2_render_corpus.py [ROUNDS]   (LAVA_CORPUS_DIR or
../../../shared/lava-corpus next to this file)
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get(
    "LAVA_CORPUS_DIR", os.path.join(HERE, "..", "..", "..", "shared", "lava-corpus")
)
sys.dont_write_bytecode = True  # never write into the corpus folder
sys.path.insert(0, CORPUS)

import jinja2  # noqa: E402
import render_reference as ref  # noqa: E402  (the corpus's own script)


def cases(dev_env, dt_env):
    out = []
    for name in ref.names(ref.DEVICES):
        out.append((dev_env, name + ".jinja2", {}))
    for name in ref.names(ref.DEVICE_TYPES):
        out.append((dt_env, name + ".jinja2", {}))
    for _, spec in sorted(ref.load_cases().items()):
        out.append((dev_env, spec["device"] + ".jinja2", spec["context"]))
    return out


def envs():
    return (
        ref.make_env([ref.DEVICES, ref.DEVICE_TYPES], False),
        ref.make_env([ref.DEVICE_TYPES], False),
    )


def one_round(work):
    for env, name, ctx in work:
        text, error = ref.render_one(env, name, ctx)
        if error is not None:
            raise SystemExit("%s: %s" % (name, error))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    dev_env, dt_env = envs()
    work = cases(dev_env, dt_env)
    one_round(work)  # warm-up: load and compile
    start = time.perf_counter()
    for _ in range(rounds):
        one_round(work)
    elapsed = time.perf_counter() - start
    n = len(work) * rounds
    print("Jinja2 %s, Python %s" % (jinja2.__version__, sys.version.split()[0]))
    print("warm (%d cases x %d rounds): %d renders in %.3f s = %.0f renders/s (%.1f us per render)"
          % (len(work), rounds, n, elapsed, n / elapsed, 1e6 * elapsed / n))
    cold_rounds = max(1, (rounds + 3) // 4)
    start = time.perf_counter()
    for _ in range(cold_rounds):
        dev_env, dt_env = envs()
        one_round(cases(dev_env, dt_env))
    elapsed = time.perf_counter() - start
    n = len(work) * cold_rounds
    print("cold (new environments each round, %d rounds): %d renders in %.3f s = %.0f renders/s (%.1f us per render)"
          % (cold_rounds, n, elapsed, n / elapsed, 1e6 * elapsed / n))


if __name__ == "__main__":
    main()
