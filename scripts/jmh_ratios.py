#!/usr/bin/env python3
"""Prints `ratio <Class>.tessera/<baseline> <params> <value>` lines and a table of raw scores from a JMH JSON file.

Used by scripts/bench.sh (CPU) and scripts/gpu-check.sh (GPU). In each benchmark class the method `tessera` is
compared with every other method of that class run with the same @Param values; above 1, Tessera is faster.
"""
import json, sys
from collections import defaultdict

with open(sys.argv[1]) as f:
    runs = json.load(f)

# Modes where a bigger score is better; for the time modes (avgt, sample, ss) the ratio is inverted so that it
# always reads "Tessera's throughput / the baseline's throughput".
THROUGHPUT_MODES = {"thrpt"}

def params(run):
    p = run.get("params") or {}
    return ",".join(f"{k}={p[k]}" for k in sorted(p)) or "-"

groups = defaultdict(dict)  # (class, mode, params) -> method -> run
for run in runs:
    cls, _, method = run["benchmark"].rpartition(".")
    groups[(cls, run["mode"], params(run))][method] = run

lines = []
for (cls, mode, ps), methods in sorted(groups.items()):
    short = cls.rpartition(".")[2]
    mine = methods.get("tessera")
    if mine is None:
        continue
    for other, run in sorted(methods.items()):
        if other == "tessera":
            continue
        t, b = mine["primaryMetric"]["score"], run["primaryMetric"]["score"]
        if t <= 0 or b <= 0:
            continue
        ratio = t / b if mode in THROUGHPUT_MODES else b / t
        lines.append(f"ratio {short}.tessera/{other} {ps} {ratio:.3f}")
    if len(methods) == 1:
        lines.append(f"# {short} {ps}: no baseline result to compare with (did the baseline fail?)")

print()
print("\n".join(lines) if lines else "# no tessera/baseline pairs in this run")
print()
print("| Benchmark | Params | Mode | Score | Error | Units |")
print("|---|---|---|---:|---:|---|")
for run in runs:
    m = run["primaryMetric"]
    err = m.get("scoreError")
    err = f"{err:.4g}" if isinstance(err, (int, float)) and err == err else ""  # "NaN" with one iteration
    name = run["benchmark"].rsplit(".", 2)
    print(f"| {'.'.join(name[-2:])} | {params(run)} | {run['mode']} | {m['score']:.4g} | {err} | {m['scoreUnit']} |")
