"""Before/after table of two floresta builds timed by compare.py on one machine.

    PYTHONPATH=<old build's site> .venv/bin/python benchmarks/compare.py --peers none --results R/before1 ...
    .venv/bin/python benchmarks/compare.py --peers none --results R/after1 ...   (alternate, twice or more)
    .venv/bin/python benchmarks/before_after.py R/before1 R/before2 -- R/after1 R/after2

For every shape, floresta kernel and batch size: the median ns per row of the before runs, of
the after runs, and after / before (below 1: faster). Two runs a side show the noise: the
spread of each side's runs is printed beside it.
"""
import json
import pathlib
import statistics
import sys


def timings(folders):
    """(shape title, engine, batch) -> [ns per row, one per folder]."""
    out = {}
    for folder in folders:
        for row in json.loads((pathlib.Path(folder) / "compare.json").read_text())["results"]:
            if not row["engine"].startswith("floresta") or row.get("threads") != 1:
                continue
            for key, value in row.items():
                if key.startswith("ns_per_row_"):
                    out.setdefault((row["title"], row["engine"], int(key[len("ns_per_row_"):])), []).append(value)
    return out


def spread(values):
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    before, after = timings(argv[:split]), timings(argv[split + 1:])
    print("| shape | kernel | rows | before ns/row (spread) | after ns/row (spread) | after / before |")
    print("|---|---|---|---|---|---|")
    for key in sorted(before, key=lambda k: (k[0], k[1], k[2])):
        if key not in after:
            continue
        b, a = statistics.median(before[key]), statistics.median(after[key])
        print(f"| {key[0]} | {key[1].replace('floresta ', '')} | {key[2]:,} | {b:,.0f} ({spread(before[key]):.0%}) "
              f"| {a:,.0f} ({spread(after[key]):.0%}) | {a / b:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
