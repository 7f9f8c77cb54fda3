"""``python -m bench [NAME...]``: run the benchmarks and print each figure beside its reference.

    python -m bench                 # every benchmark
    python -m bench lifecycle ps    # some
    python -m bench --quick         # smaller counts: a smoke run, not figures to record
    python -m bench --list          # the benchmarks and what each measures
    python -m bench --markdown out.md   # also write the results as a Markdown table (for docs/PERFORMANCE.md)

A benchmark that raises is reported and the others still run; the exit status is 1 if any raised.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from types import ModuleType

import bench
from bench import Env, Figure
from bench.common import machine

#: Benchmarks run in this order; others found in the package run after them, alphabetically.
ORDER = ["startup", "parse", "lifecycle", "lifecycle_cni", "bulk", "ps", "restart", "memory", "running"]
_NOT_BENCHMARKS = {"common"}


def discover() -> dict[str, ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")]
    names = [n for n in names if n not in _NOT_BENCHMARKS]
    ordered = [n for n in ORDER if n in names] + sorted(n for n in names if n not in ORDER)
    modules = {}
    for name in ordered:
        module = importlib.import_module(f"bench.{name}")
        if callable(getattr(module, "run", None)):
            modules[name] = module
    return modules


def _summary(module: ModuleType) -> str:
    doc = (module.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _number(value: float, unit: str) -> str:
    if unit in ("ms", "µs", "s", "MiB"):
        return f"{value:,.1f} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def _verdict(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "met" if figure.met else "MISSED"


def print_figures(name: str, figures: list[Figure]) -> None:
    for f in figures:
        line = f"  {f.name}: {_number(f.value, f.unit)}"
        if f.reference is not None:
            line += f"  vs {f.reference_name or 'reference'} {_number(f.reference, f.unit)}"
            if f.ratio is not None:
                line += f"  ratio {f.ratio:.2f}×"
        if f.target:
            line += f"  [target {f.target}: {_verdict(f) or 'n/a'}]"
        print(line, flush=True)
        if f.note:
            for note_line in f.note.splitlines():
                print(f"      {note_line}", flush=True)


def markdown(results: dict[str, list[Figure]], header: str) -> str:
    rows = [
        header,
        "",
        "| benchmark | figure | pouchsh | reference | ratio | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        for f in figures:
            ref = f"{_number(f.reference, f.unit)} ({f.reference_name})" if f.reference is not None else ""
            ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
            rows.append(f"| {name} | {f.name} | {_number(f.value, f.unit)} | {ref} | {ratio} | {f.target} | {_verdict(f)} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small counts: check that the benchmarks run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per comparison")
    parser.add_argument("--address", help="use this running containerd instead of a private one")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--markdown", metavar="FILE", help="also write the results as a Markdown table")
    args = parser.parse_args(argv)

    modules = discover()
    if args.list:
        for name, module in modules.items():
            print(f"{name:12} {_summary(module)}")
        return 0
    unknown = [n for n in args.names if n not in modules]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (have: {', '.join(modules)})")
    chosen = args.names or list(modules)

    rounds = args.rounds or (1 if args.quick else 3)
    env = Env(quick=args.quick, rounds=rounds, address=args.address)
    header = f"Machine: {machine()}"
    print(header, flush=True)
    results: dict[str, list[Figure]] = {}
    failed = []
    try:
        for name in chosen:
            print(f"\n{name}: {_summary(modules[name])}", flush=True)
            start = time.monotonic()
            try:
                figures = list(modules[name].run(env))
            except Exception:  # noqa: BLE001 - one benchmark's failure is reported, the others still run
                traceback.print_exc()
                failed.append(name)
                continue
            results[name] = figures
            print_figures(name, figures)
            print(f"  ({time.monotonic() - start:.0f} s)", flush=True)
    finally:
        env.close()
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(results, header))
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
