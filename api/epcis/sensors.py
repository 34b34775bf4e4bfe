"""Sensor reports of captured EPCIS events: every number finite, every measurement of a
known type within its physical range, and the temperatures a receipt records.

A value outside its range is refused (422) before anything is applied, naming the field
by its JSON path: `epcis_sensor_value_not_finite` (NaN, or a literal too large for a
float), `epcis_sensor_value_out_of_range` (e.g. 4000 °C, -5000 °C, 1e308), and
`epcis_sensor_unit_unknown` (a temperature in a unit we cannot convert). Measurement types
without a range here are only required to be finite: the ledger does not read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from medledger.api.epcis.errors import SensorValueRefused

__all__ = ["MEASURES", "Measure", "check_sensor_reports", "temperature_range"]


@dataclass(frozen=True, slots=True)
class Measure:
    """A measurement type's accepted range in its canonical unit, and how each accepted
    unit (UN/CEFACT common code; None = no `uom` given) converts to it."""

    unit: str
    low: float
    high: float
    units: dict[str | None, Callable[[float], float]]

    def canonical(self, uom: str | None, value: float) -> float | None:
        convert = self.units.get(uom)
        return None if convert is None else convert(value)


def _same(value: float) -> float:
    return value


MEASURES: dict[str, Measure] = {
    # The ledger records receipt temperatures in tenths of a degree Celsius (int16).
    "Temperature": Measure(
        "CEL",
        -273.15,
        1000.0,
        {
            None: _same,
            "CEL": _same,
            "KEL": lambda k: k - 273.15,
            "FAH": lambda f: (f - 32.0) * 5.0 / 9.0,
        },
    ),
    "RelativeHumidity": Measure("P1", 0.0, 100.0, {None: _same, "P1": _same}),
}
# Fields of a sensor report that are the measured quantity, and the statistics that are not.
MEASURED = ("value", "minValue", "maxValue", "meanValue", "percValue")
STATISTICS: dict[str, tuple[float, float]] = {"sDev": (0.0, math.inf), "percRank": (0.0, 100.0)}


def measurement(type_: Any) -> str:
    """`Temperature` for `Temperature`, `gs1:Temperature` or a URI ending in it."""
    text = str(type_)
    for separator in ("/", "#", ":", "MeasurementType-"):
        text = text.rsplit(separator, 1)[-1]
    return text


def _reports(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    elements = event.get("sensorElementList")
    for e, element in enumerate(elements if isinstance(elements, list) else []):
        reports = element.get("sensorReport") if isinstance(element, dict) else None
        for r, report in enumerate(reports if isinstance(reports, list) else []):
            if isinstance(report, dict):
                yield f".sensorElementList[{e}].sensorReport[{r}]", report


def _numbers(report: dict[str, Any]) -> Iterator[tuple[str, float]]:
    for key in (*MEASURED, *STATISTICS):
        value = report.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield key, float(value)


def check_sensor_reports(index: int, event: dict[str, Any]) -> None:
    """Refuse the first sensor value of event `index` that is not finite or not within the
    range of its measurement type (SensorValueRefused, 422)."""
    base = f"$.epcisBody.eventList[{index}]"
    for path, report in _reports(event):
        kind = measurement(report.get("type", ""))
        measure = MEASURES.get(kind)
        uom = report.get("uom")
        for key, value in _numbers(report):
            field = f"{base}{path}.{key}"
            if not math.isfinite(value):
                raise SensorValueRefused(
                    "epcis_sensor_value_not_finite",
                    index,
                    field,
                    f"{field} is {value}: sensor values must be finite numbers",
                )
            if key in STATISTICS:
                low, high = STATISTICS[key]
                _within(index, field, value, low, high, unit="")
                continue
            if measure is None:
                continue
            canonical = measure.canonical(uom if isinstance(uom, str) else None, value)
            if canonical is None:
                if kind == "Temperature":
                    raise SensorValueRefused(
                        "epcis_sensor_unit_unknown",
                        index,
                        f"{base}{path}.uom",
                        f"{base}{path}.uom {uom!r}: a Temperature is accepted in "
                        + ", ".join(u for u in measure.units if u),
                    )
                continue
            _within(index, field, canonical, measure.low, measure.high, unit=measure.unit)


def _within(index: int, field: str, value: float, low: float, high: float, *, unit: str) -> None:
    if low <= value <= high:
        return
    shown = f"{value:g} {unit}".strip()
    raise SensorValueRefused(
        "epcis_sensor_value_out_of_range",
        index,
        field,
        f"{field} is {shown}, outside {low:g}..{high:g} {unit}".rstrip(),
        accepted={"min": low, "max": None if math.isinf(high) else high, "uom": unit or None},
    )


def temperature_range(event: dict[str, Any]) -> tuple[int, int] | None:
    """(min, max) in tenths of a degree Celsius from the event's Temperature reports, or
    None without one. Call after `check_sensor_reports`: every value is then in range."""
    measure = MEASURES["Temperature"]
    values: list[float] = []
    for _, report in _reports(event):
        if measurement(report.get("type", "")) != "Temperature":
            continue
        uom = report.get("uom")
        for key, value in _numbers(report):
            if key in MEASURED:
                canonical = measure.canonical(uom if isinstance(uom, str) else None, value)
                if canonical is not None:
                    values.append(canonical)
    if not values:
        return None
    return round(min(values) * 10), round(max(values) * 10)
