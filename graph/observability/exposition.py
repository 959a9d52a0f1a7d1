"""Counters and histograms with labels, written in Prometheus' text exposition format 0.0.4.

A few dozen lines instead of a client library: the API needs only these two kinds, kept
per worker process (each worker is scraped on its own, or its numbers summed by the
scraper). Everything here is updated from the event loop's one thread, so plain dicts do.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LabelValues = tuple[str, ...]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def escape_label_value(value: str) -> str:
    """A label value as the format wants it between double quotes: \\, " and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    # HELP text escapes only backslash and newline (a quote is plain text there).
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_number(value: float) -> str:
    """A sample value: integers without a decimal point, infinities as the format spells them."""
    value = float(value)  # ints too (`float` in a signature admits them)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(
        f'{name}="{escape_label_value(value)}"' for name, value in zip(names, values, strict=True)
    )
    return "{" + pairs + "}"


def _header(name: str, help_text: str, kind: str) -> Iterator[str]:
    yield f"# HELP {name} {_escape_help(help_text)}"
    yield f"# TYPE {name} {kind}"


class BoundedLabel:
    """Keeps the first `limit` distinct values of a label that clients choose; later values
    all become `overflow`, so a client inventing names cannot grow the exposition for ever."""

    def __init__(self, limit: int, overflow: str = "(other)") -> None:
        self._limit = limit
        self._overflow = overflow
        self._kept: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._kept:
            return value
        if len(self._kept) >= self._limit:
            return self._overflow
        self._kept.add(value)
        return value


class _Metric:
    """What every metric shares: a checked name, help text and label names."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str]) -> None:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"not a metric name: {name!r}")
        for label in label_names:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__") or label == "le":
                raise ValueError(f"not a usable label name: {label!r}")
        self.name = name
        self.help_text = help_text
        self.label_names = tuple(label_names)

    def _check(self, label_values: LabelValues) -> None:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {label_values}")

    def exposition(self) -> Iterator[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A count that only goes up, one per combination of label values."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, label_names)
        self._values: dict[LabelValues, float] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self._check(label_values)
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def exposition(self) -> Iterator[str]:
        yield from _header(self.name, self.help_text, self.kind)
        if not self.label_names and not self._values:
            # An unlabelled counter exists from the start, at 0, so rate() has a baseline.
            yield f"{self.name} 0"
        for label_values, value in sorted(self._values.items()):
            yield f"{self.name}{_label_text(self.label_names, label_values)} {format_number(value)}"


@dataclass
class _HistogramSeries:
    # counts[i] is the number of observations in bucket i alone (the last: above every
    # bound); the exposition makes them cumulative, as the format wants.
    counts: list[int]
    total: float = 0.0
    observations: int = 0


class Histogram(_Metric):
    """Observations counted into fixed buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: Iterable[float],
        label_names: Sequence[str] = (),
    ) -> None:
        super().__init__(name, help_text, label_names)
        self.buckets = tuple(sorted(bound for bound in buckets if not math.isinf(bound)))
        if not self.buckets:
            raise ValueError("a histogram needs at least one finite bucket")
        self._series: dict[LabelValues, _HistogramSeries] = {}

    def observe(self, value: float, *label_values: str) -> None:
        self._check(label_values)
        series = self._series.get(label_values)
        if series is None:
            series = self._series[label_values] = _HistogramSeries([0] * (len(self.buckets) + 1))
        # The first bound at or above the value: `le` means "less than or equal".
        series.counts[bisect_left(self.buckets, value)] += 1
        series.total += value
        series.observations += 1

    def count(self, *label_values: str) -> int:
        series = self._series.get(label_values)
        return 0 if series is None else series.observations

    def exposition(self) -> Iterator[str]:
        yield from _header(self.name, self.help_text, self.kind)
        series_by_labels = dict(self._series)
        if not self.label_names and not series_by_labels:
            series_by_labels[()] = _HistogramSeries([0] * (len(self.buckets) + 1))
        bounds = [format_number(float(bound)) for bound in self.buckets] + ["+Inf"]
        for label_values, series in sorted(series_by_labels.items()):
            cumulative = 0
            for bound, count in zip(bounds, series.counts, strict=True):
                cumulative += count
                labels = _label_text((*self.label_names, "le"), (*label_values, bound))
                yield f"{self.name}_bucket{labels} {cumulative}"
            labels = _label_text(self.label_names, label_values)
            yield f"{self.name}_sum{labels} {format_number(series.total)}"
            yield f"{self.name}_count{labels} {series.observations}"


def gauge_exposition(name: str, help_text: str, value: float) -> Iterator[str]:
    """A gauge read at scrape time (e.g. from a connection pool), with no state kept here."""
    yield from _header(name, help_text, "gauge")
    yield f"{name} {format_number(value)}"


_M = TypeVar("_M", bound=_Metric)


@dataclass
class Registry:
    """The metrics one process exposes, in the order they were added."""

    metrics: list[_Metric] = field(default_factory=list)

    def add(self, metric: _M) -> _M:
        if any(known.name == metric.name for known in self.metrics):
            raise ValueError(f"metric {metric.name} is already registered")
        self.metrics.append(metric)
        return metric

    def lines(self) -> Iterator[str]:
        for metric in self.metrics:
            yield from metric.exposition()


def render(lines: Iterable[str]) -> str:
    """The exposition body: one line per sample, and a final newline (the format requires it)."""
    return "\n".join(lines) + "\n"
