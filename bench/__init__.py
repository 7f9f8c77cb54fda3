"""pouchsh benchmarks: each one measured against its reference in the same run, reported as a ratio.

A benchmark is a module in this package (``bench/lifecycle.py``, ``bench/parse.py`` ...) with a
docstring and one function::

    def run(env: bench.Env) -> list[bench.Figure]: ...

``python -m bench [NAME...]`` (``make bench``) discovers the modules, runs the ones named (all by
default) and prints every figure with its reference and ratio. A benchmark that needs containerd asks
``env`` for it (``env.address``, ``env.namespace``, ``env.ctr(...)``, ``env.pouchsh(...)``): the private
containerd is started on first use, so a parser benchmark never starts one. Benchmarks are measurements,
not tests: nothing here passes or fails; a ``Figure`` says whether its target was met so the summary
and docs/PERFORMANCE.md can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import Env

__all__ = ["Env", "Figure"]


@dataclass(frozen=True)
class Figure:
    """One measured figure.

    ``name``: what was measured ("run --rm busybox true, per container"); ``value`` in ``unit`` ("ms",
    "containers/s", "MiB", "lines/s", "fds"); ``reference`` the same quantity for the reference path named
    ``reference_name`` ("ctr run --rm"), measured in the same run; ``target`` the goal in words
    ("≤ 0.85× ctr"); ``met`` whether it was reached (None: no target); ``note``: anything a reader needs
    (the sample count, where the time goes); ``paired_ratio``: the median of per-round ratios, when the
    benchmark measured both sides round by round (steadier than a ratio of medians on a busy machine).
    """

    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        """The paired ratio if measured, else value / reference (None without a reference)."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.reference is None or self.reference == 0:
            return None
        return self.value / self.reference
