#!/usr/bin/env python3
"""results.csv (RESULT lines) -> markdown tables: median over runs, with min-max spread."""
import csv, statistics, sys
from collections import defaultdict

rows = list(csv.reader(open(sys.argv[1] if len(sys.argv) > 1 else "results.csv")))
d = defaultdict(list)  # (pin, style, size, transport) -> [(run, p50, p99, p999, max, cps)]
for r in rows:
    _, tag, style, size, tr, n, p50, p99, p999, mx, cps = r
    pin, run = tag.rsplit("-", 1)
    d[(pin, style, int(size), tr)].append((run, float(p50), float(p99), float(p999), float(mx), float(cps)))

def fmt(vals, prec=1):
    m = statistics.median(vals)
    return f"{m:.{prec}f} ({min(vals):.{prec}f}–{max(vals):.{prec}f})"

sz = {64: "64 B", 4096: "4 KiB", 1048576: "1 MiB"}
print("| CPUs | wait | size | transport | runs | p50 µs | p99 µs | p99.9 µs | calls/s |")
print("|---|---|---|---|---|---|---|---|---|")
for key in sorted(d, key=lambda k: (k[0], k[1], k[2], k[3])):
    pin, style, size, tr = key
    v = d[key]
    print(f"| {pin} | {style} | {sz[size]} | {tr} | {len(v)} | {fmt([x[1] for x in v], 2)} | "
          f"{fmt([x[2] for x in v])} | {fmt([x[3] for x in v])} | {fmt([x[5] for x in v], 0)} |")

print()
print("Paired p50 ratio client/server ÷ pub/sub, per run (same run, alternating chunks):")
print()
print("| CPUs | wait | size | per-run ratios | per-run p50 difference µs |")
print("|---|---|---|---|---|")
for (pin, style, size, tr) in sorted(d):
    if tr != "client/server":
        continue
    cs = {x[0]: x[1] for x in d[(pin, style, size, "client/server")]}
    ps = {x[0]: x[1] for x in d[(pin, style, size, "pub/sub")]}
    runs = sorted(cs)
    print(f"| {pin} | {style} | {sz[size]} | " + " / ".join(f"{cs[r]/ps[r]:.2f}" for r in runs)
          + " | " + " / ".join(f"{cs[r]-ps[r]:+.2f}" for r in runs) + " |")
