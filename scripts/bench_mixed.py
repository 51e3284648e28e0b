#!/usr/bin/python3
"""Mixed-knob benchmark: passflow's optimizer against Optuna's TPE.

A service-like cost over five knobs of three kinds, as real targets have:
an integer (worker threads, log scale), two floats (heap size and cache TTL,
log scale) and two categoricals (GC mode and compression). The cost is a
quadratic bowl in the knobs' log scales with an interaction between threads
and heap whose centre and depth depend on the GC mode, plus a TTL term whose
best value depends on the compression. Its optimum is found exactly: every
(threads, gc, compression) is enumerated and the heap and TTL minimized in
closed form (clipped to their ranges).

passflow runs as a user would run it: `passflow optimize --space F --seed S
--budget N`, answered over JSON Lines by this script. Optuna's TPE runs with
its defaults (ask/tell, multivariate off, 10 startup trials), seeded.

Usage: bench_mixed.py --passflow bin/passflow [--seeds 20] [--budgets 25,50,100]
Prints a Markdown table of simple regret, median [25th-75th percentile].
Needs Debian's python3-optuna (the Makefile's bench-mixed installs it).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import optuna

THREADS = (1, 128)
HEAP_GB = (0.5, 16.0)
TTL_S = (1.0, 3600.0)
GC = {  # centre of threads (u1) and heap (u2), interaction, offset
    "parallel": (0.30, 0.70, 1.2, 0.35),
    "g1": (0.55, 0.45, 0.8, 0.0),
    "zgc": (0.70, 0.30, 0.4, 0.20),
}
COMPRESSION = {  # best TTL (u3), offset
    "none": (0.80, 0.25),
    "lz4": (0.55, 0.0),
    "zstd": (0.40, 0.10),
}
A, B, D = 4.0, 3.0, 2.0


def unit(v, lo, hi):
    return math.log(v / lo) / math.log(hi / lo)


def cost(threads, heap_gb, ttl_s, gc, compression):
    a, b, c, off = GC[gc]
    t, toff = COMPRESSION[compression]
    u1, u2, u3 = unit(threads, *THREADS), unit(heap_gb, *HEAP_GB), unit(ttl_s, *TTL_S)
    return (1.0 + A * (u1 - a) ** 2 + B * (u2 - b) ** 2 + c * (u1 - a) * (u2 - b)
            + D * (u3 - t) ** 2 + off + toff)


def optimum():
    best = math.inf
    for gc, (a, b, c, off) in GC.items():
        for comp, (t, toff) in COMPRESSION.items():
            for threads in range(THREADS[0], THREADS[1] + 1):
                u1 = unit(threads, *THREADS)
                u2 = min(max(b - c * (u1 - a) / (2 * B), 0.0), 1.0)
                heap = HEAP_GB[0] * (HEAP_GB[1] / HEAP_GB[0]) ** u2
                ttl = TTL_S[0] * (TTL_S[1] / TTL_S[0]) ** t
                best = min(best, cost(threads, heap, ttl, gc, comp))
    return best


SPACE = """params:
  - {name: threads, type: int, min: %d, max: %d, log: true, current: 8}
  - {name: heap_gb, type: float, min: %g, max: %g, log: true, current: 2}
  - {name: ttl_s, type: float, min: %g, max: %g, log: true, current: 60}
  - {name: gc, type: categorical, choices: [parallel, g1, zgc], current: parallel}
  - {name: compression, type: categorical, choices: [none, lz4, zstd], current: none}
objective: {goal: minimize, metric: cost}
""" % (THREADS + HEAP_GB + TTL_S)


def run_passflow(binary, space, seed, budget):
    """Best cost after each evaluation, from passflow optimize."""
    p = subprocess.Popen([binary, "optimize", "--space", space, "--seed", str(seed), "--budget", str(budget)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    trace, best = [], math.inf
    for line in p.stdout:
        msg = json.loads(line)
        if "best" in msg:
            break
        x = msg["params"]
        y = cost(x["threads"], x["heap_gb"], x["ttl_s"], x["gc"], x["compression"])
        best = min(best, y)
        trace.append(best)
        p.stdin.write(json.dumps({"trial": msg["trial"], "value": y}) + "\n")
        p.stdin.flush()
    p.stdin.close()
    if p.wait() != 0:
        sys.exit("passflow optimize failed (seed %d)" % seed)
    return trace


def run_tpe(seed, budget):
    """Best cost after each evaluation, from Optuna's TPE with its defaults."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    trace, best = [], math.inf
    for _ in range(budget):
        trial = study.ask()
        y = cost(trial.suggest_int("threads", *THREADS, log=True),
                 trial.suggest_float("heap_gb", *HEAP_GB, log=True),
                 trial.suggest_float("ttl_s", *TTL_S, log=True),
                 trial.suggest_categorical("gc", list(GC)),
                 trial.suggest_categorical("compression", list(COMPRESSION)))
        study.tell(trial, y)
        best = min(best, y)
        trace.append(best)
    return trace


def quantiles(xs):
    xs = sorted(xs)

    def q(p):
        h = p * (len(xs) - 1)
        lo = math.floor(h)
        return xs[lo] if lo + 1 >= len(xs) else xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])
    return q(0.5), q(0.25), q(0.75)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--passflow", required=True, help="the passflow binary")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budgets", default="25,50,100")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    fstar = optimum()
    with tempfile.TemporaryDirectory() as d:
        space = os.path.join(d, "mixed.yaml")
        with open(space, "w") as f:
            f.write(SPACE)
        rows = []
        for name, run in (("passflow GP", lambda s: run_passflow(args.passflow, space, s, max(budgets))),
                          ("Optuna TPE (3.1, defaults)", lambda s: run_tpe(s, max(budgets)))):
            start = time.time()
            traces = [run(s) for s in range(1, args.seeds + 1)]
            secs = (time.time() - start) / args.seeds
            cells = []
            for b in budgets:
                med, lo, hi = quantiles([t[b - 1] - fstar for t in traces])
                cells.append("%.2g [%.2g–%.2g]" % (med, lo, hi))
            rows.append("| %s | %s | %.1f s |" % (name, " | ".join(cells), secs))
    print("Mixed knobs (int, 2 floats, 2 categoricals; optimum %.6g), simple regret, median [25th–75th "
          "percentile] over seeds 1..%d\n" % (fstar, args.seeds))
    print("| optimizer | " + " | ".join("%d evals" % b for b in budgets) + " | time/run |")
    print("|---|" + "---|" * len(budgets) + "---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
