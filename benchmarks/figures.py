"""The benchmark's table of figures and the statistics every part of it uses."""

from __future__ import annotations

import statistics


class Table:
    """Rows of measure, figure, budget and verdict, printed as they come and written at the end."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, figure: str, budget: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append((what, figure, budget, verdict))
        print(f"{verdict or '    '}  {what}: {figure}" + (f" (budget {budget})" if budget else ""), flush=True)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def median_p95(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 0.95)
