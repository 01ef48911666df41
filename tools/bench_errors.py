"""Benchmark: ``hfc-detect errors`` on a results folder against tidecv, TIDE's authors' package.

    python tools/bench_errors.py DIR [--repeat 3]       # needs tidecv (pip install tidecv)

Times, one after the other, on the same folder (every variant, bbox):

- ours: :func:`hfc_detect.analysis.errors.folder_errors` as ``hfc-detect errors`` runs it
  (annotations and predictions read and validated by :mod:`hfc_detect.evaluation`, TIDE's
  matching, main and special errors and per-image counts by :mod:`hfc_detect.analysis.tide`);
  writing the two CSV files and the figure is timed apart, once;
- tidecv: ``datasets.COCO`` (reads the annotations and turns every segmentation into an RLE)
  once, then per variant ``datasets.COCOResult``, ``TIDE().evaluate`` and ``get_all_errors``,
  as its README runs it.

Importing tidecv (which imports pandas and seaborn) is timed apart, once; ours imports nothing
beyond numpy and the toolkit. Each runs ``--repeat`` times; the best wall time and its CPU time
are reported (the machine may be shared). The largest difference between the two is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` runs of ``fn``, that run's CPU time, and its result."""
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, result))
    return min(runs, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    import tidecv

    print(f"import tidecv: {time.perf_counter() - start:.2f} s")
    from hfc_detect.analysis.errors import folder_errors, predictions_path, write_errors
    from hfc_detect.results import load_comparison

    folder = load_comparison(args.directory)
    names = folder.variant_names
    paths = {name: predictions_path(folder, name) for name in names}
    out = args.directory / "bench_errors"
    out.mkdir(exist_ok=True)

    def ours() -> dict[str, dict[str, float]]:
        result = folder_errors(args.directory)
        return {v.variant: {**v.main, **v.special} for v in result.variants}

    def files() -> float:
        result = folder_errors(args.directory)
        start = time.process_time()
        write_errors(out, result)
        return time.process_time() - start

    def reference() -> dict[str, dict[str, float]]:
        numbers = {}
        with contextlib.redirect_stdout(io.StringIO()):
            gt = tidecv.datasets.COCO(folder.summary["annotations"])
            for name in names:
                tide = tidecv.TIDE()
                tide.evaluate(gt, tidecv.datasets.COCOResult(str(paths[name]), name=name))
                errors = tide.get_all_errors()
                numbers[name] = {**errors["main"][name], **errors["special"][name]}
        return numbers

    timed = {"ours (hfc-detect errors)": best(ours, args.repeat)}
    timed["tidecv"] = best(reference, args.repeat)
    images = folder.summary.get("num_images")
    print(f"{args.directory}: {images} images, variants {', '.join(names)}; best of {args.repeat}")
    for label, (wall, cpu, _) in timed.items():
        print(f"{label:<28} {wall:7.2f} s wall {cpu:7.2f} s CPU")
    print(f"then writing the two CSV files and the figure: {files():.2f} s CPU")
    (_, _, a), (_, _, b) = timed.values()
    worst = max(abs(a[n][k] - b[n][k]) for n in names for k in a[n])
    print(f"largest difference between the two: {worst:.2e} points")


if __name__ == "__main__":
    main()
