"""Evidence for people: one sentence and a small table of named figures per alert.

The detectors store their numbers in `evidence` (models/alerts.py, training/detect.py); this
module is the one place that turns them into words, so the dashboard (through the API's
`summary` and `figures`), the e-mail digest and the CLI say the same thing. Statistics are named
in plain words with the raw value beside: "chance of a false alarm (q-value)" reads
"below 0.1% (q = 2e-06)". docs/alerts.md lists every figure of every type.

A figure is a dict: `name` (plain words), `value` (the figure as people read it, with its
unit), `unit` (`seizures`, `kg`, `months`, `%`, `share`, `` for a pure number) and `raw` (the
stored number, for tables and machines).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from core.geography import geo_name

Figure = dict[str, Any]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _amount(value: Any, unit: str) -> str:
    number = _number(value)
    if number is None:
        return "unknown"
    if unit == "kg" and abs(number) < 10:
        return f"{number:,.1f} kg"
    return f"{number:,.0f} {unit}"


def figure(name: str, value: str, unit: str, raw: Any) -> Figure:
    """One row of an alert's table of figures."""
    return {"name": name, "value": value, "unit": unit, "raw": raw}


def amount_figure(name: str, raw: Any, unit: str) -> Figure:
    return figure(name, _amount(raw, unit), unit, raw)


def false_alarm_figure(q_value: Any) -> Figure:
    """The q-value in words: the chance that an alert like this is a false alarm."""
    q = _number(q_value)
    if q is None:
        text = "unknown"
    elif q < 0.001:
        text = f"below 0.1% (q = {q:.1g})"
    else:
        text = f"about {q:.1%} (q = {q:.3g})"
    return figure("chance of a false alarm (q-value)", text, "", q_value)


def strength_figure(z: Any) -> Figure:
    """A z statistic in words: how many standard deviations from what was expected."""
    value = _number(z)
    text = "unknown" if value is None else f"{abs(value):.1f} standard deviations (z = {value:.2f})"
    return figure("distance from the expected level (z-score)", text, "", z)


def shift_size_figure(v: Any) -> Figure:
    """Cramér's V in words: how much the shares moved, 0 (not at all) to 1 (completely)."""
    value = _number(v)
    if value is None:
        text = "unknown"
    else:
        word = "large" if value >= 0.3 else "moderate" if value >= 0.2 else "small"
        text = f"{word} (Cramér's V = {value:.2f}, 0 none to 1 complete)"
    return figure("size of the shift in shares (Cramér's V)", text, "", v)


def _change(observed: Any, expected: Any) -> str:
    o, e = _number(observed), _number(expected)
    if o is None or e is None:
        return "a change"
    if e <= 0:
        return "a rise from nothing"
    return f"{(o / e - 1) * 100:+.0f}%"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _where_what(alert: Mapping[str, Any]) -> str:
    """What was measured, in words: "seizures of heroin in Spain", "cocaine seized in Spain
    (kg)" (not "kg of cocaine", which reads as an amount)."""
    where = geo_name(alert["geo"])
    if alert.get("metric") == "kg":
        return f"{alert['drug']} seized in {where} (kg)"
    return f"seizures of {alert['drug']} in {where}"


def _level(alert: Mapping[str, Any], ev: Mapping[str, Any]) -> tuple[str, list[Figure]]:
    ev["observed"], ev["expected"]  # noqa: B018 - without them, the stored summary says it
    unit = str(alert.get("metric", "seizures"))
    verb = {"surge": "rose", "decline": "fell"}.get(alert["type"], "rose")
    months = ev.get("months")
    change = _change(ev.get("observed"), ev.get("expected"))
    sentence = (f"{_upper_first(_where_what(alert))} {verb} {change.lstrip('+-')} from "
                f"{alert['period']}: "
                f"{_amount(ev.get('observed'), unit)} in {months} months against "
                f"{_amount(ev.get('expected'), unit)} expected.")
    figures = [amount_figure("observed", ev.get("observed"), unit),
               amount_figure("expected", ev.get("expected"), unit),
               figure("change", change, "%", _ratio(ev.get("observed"), ev.get("expected"))),
               figure("months compared", f"{months} months", "months", months)]
    if "per_period_before" in ev:
        figures.append(amount_figure(f"{unit} a month before", ev["per_period_before"], unit))
    if "per_period_after" in ev:
        figures.append(amount_figure(f"{unit} a month since", ev["per_period_after"], unit))
    if "same_months_last_year" in ev:
        figures.append(amount_figure("same months a year before", ev["same_months_last_year"],
                                     unit))
    if "periods_above_expected" in ev:
        figures.append(figure("months above expected", f"{ev['periods_above_expected']} of "
                              f"{ev.get('window', '?')}", "months", ev["periods_above_expected"]))
    if "change_at" in ev:
        figures.append(figure("change began", str(ev["change_at"]), "period", ev["change_at"]))
    if "slope_per_period" in ev:
        slope = _number(ev["slope_per_period"])
        figures.append(figure("rise per month (Theil-Sen slope)", "unknown" if slope is None
                              else f"{slope:+,.1f} {unit} a month", f"{unit}/month",
                              ev["slope_per_period"]))
    if "z" in ev:
        figures.append(strength_figure(ev["z"]))
    if "q_value" in ev:
        figures.append(false_alarm_figure(ev["q_value"]))
    return sentence, figures


def _ratio(observed: Any, expected: Any) -> float | None:
    o, e = _number(observed), _number(expected)
    return None if o is None or e is None or e <= 0 else round(o / e, 4)


def _new_drug(alert: Mapping[str, Any], ev: Mapping[str, Any]) -> tuple[str, list[Figure]]:
    seizures = _amount(ev["seizures"], "seizures")
    sentence = (f"{_upper_first(alert['drug'])} appeared in {geo_name(alert['geo'])} in "
                f"{ev.get('first_seen', alert['period'])}: {seizures} "
                f"in {ev.get('months_present')} months, after {ev.get('months_absent_before')} "
                "reporting months without any.")
    return sentence, [
        figure("first seen", str(ev.get("first_seen", alert["period"])), "period",
               ev.get("first_seen")),
        amount_figure("seizures since", ev.get("seizures"), "seizures"),
        figure("months present", f"{ev.get('months_present')} months", "months",
               ev.get("months_present")),
        figure("reporting months without it before", f"{ev.get('months_absent_before')} months",
               "months", ev.get("months_absent_before"))]


def _route_shift(alert: Mapping[str, Any], ev: Mapping[str, Any]) -> tuple[str, list[Figure]]:
    ev["cramers_v"]  # noqa: B018 - without it, the stored summary says it
    route = alert.get("route") or {}
    label = str(route.get("attribute", "route")).replace("_", " ")
    gaining = ", ".join(route.get("gaining") or []) or "none"
    losing = ", ".join(route.get("losing") or []) or "none"
    sentence = (f"The {label} of {alert['drug']} seizures bound for "
                f"{route.get('destination', alert['geo'])} shifted from {alert['period']}: "
                f"gaining {gaining}, losing {losing}.")
    figures = []
    for key, share in (ev.get("shares") or {}).items():
        if not isinstance(share, Mapping):
            continue
        before, after = _number(share.get("baseline")), _number(share.get("recent"))
        text = ("unknown" if before is None or after is None
                else f"{before:.0%} before, {after:.0%} recently")
        figures.append(figure(f"share of {key}", text, "share", dict(share)))
    figures += [amount_figure("seizures before", ev.get("baseline_seizures"), "seizures"),
                amount_figure("seizures recently", ev.get("recent_seizures"), "seizures"),
                shift_size_figure(ev.get("cramers_v")), false_alarm_figure(ev.get("q_value"))]
    if "g" in ev:
        figures.append(figure("test statistic (likelihood-ratio G)", f"G = {ev['g']}", "",
                              ev["g"]))
    return sentence, figures


def _threshold(alert: Mapping[str, Any], ev: Mapping[str, Any]) -> tuple[str, list[Figure]]:
    ev["threshold"]  # noqa: B018 - without it, the stored summary says it
    unit = str(alert.get("metric", "seizures"))
    level = ev.get("level", 95)
    sentence = (f"The forecast of {_where_what(alert)} may reach the threshold of "
                f"{_amount(ev.get('threshold'), unit)} in {ev.get('first_period', alert['period'])}"
                f": the upper {level}% bound is {_amount(ev.get('upper'), unit)}, the point "
                f"forecast {_amount(ev.get('forecast'), unit)}.")
    return sentence, [
        amount_figure("threshold", ev.get("threshold"), unit),
        amount_figure(f"upper {level}% forecast bound", ev.get("upper"), unit),
        amount_figure("point forecast", ev.get("forecast"), unit),
        amount_figure("highest upper bound ahead", ev.get("peak_upper"), unit),
        figure("first period at the threshold", str(ev.get("first_period", alert["period"])),
               "period", ev.get("first_period"))]


def _stored_figures(ev: Mapping[str, Any], skip: frozenset[str]) -> list[Figure]:
    """Evidence numbers no writer names, shown as stored (so nothing is hidden)."""
    return [figure(str(k).replace("_", " "), str(v), "", v) for k, v in ev.items()
            if k not in skip and k != "summary" and not isinstance(v, dict | list)]


def _generic(alert: Mapping[str, Any], ev: Mapping[str, Any]) -> tuple[str, list[Figure]]:
    """A type this module does not know yet: its own summary and numbers, named as stored."""
    sentence = str(ev.get("summary") or f"{alert['type'].replace('_', ' ')} in "
                   f"{geo_name(alert['geo'])} from {alert['period']}.")
    return sentence, _stored_figures(ev, frozenset())


_LEVEL_KEYS = frozenset({
    "observed", "expected", "months", "per_period_before", "per_period_after",
    "same_months_last_year", "periods_above_expected", "window", "z", "q_value", "change_at",
    "slope_per_period"})
# the evidence keys each writer names; any other key is shown as stored
_NAMED: dict[str, frozenset[str]] = {
    "surge": _LEVEL_KEYS, "decline": _LEVEL_KEYS, "emerging_trend": _LEVEL_KEYS,
    "new_drug": frozenset({"first_seen", "seizures", "months_present", "months_absent_before"}),
    "route_shift": frozenset({"shares", "baseline_seizures", "recent_seizures", "cramers_v", "g",
                              "q_value"}),
    "forecast_threshold": frozenset({"threshold", "level", "upper", "forecast", "peak_upper",
                                     "first_period"})}

_WRITERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]],
                             tuple[str, list[Figure]]]] = {
    "surge": _level, "decline": _level, "emerging_trend": _level, "new_drug": _new_drug,
    "route_shift": _route_shift, "forecast_threshold": _threshold}


def describe(alert: Mapping[str, Any]) -> dict[str, Any]:
    """`{"summary": one sentence, "figures": [figure, ...]}` for an alert dict; evidence
    without the numbers its type's sentence needs is shown as stored (its own summary)."""
    evidence = alert.get("evidence") or {}
    writer = _WRITERS.get(str(alert.get("type")), _generic)
    try:
        sentence, figures = writer(alert, evidence)
    except (KeyError, TypeError, ValueError):
        return dict(zip(("summary", "figures"), _generic(alert, evidence), strict=True))
    if writer is not _generic:
        figures += _stored_figures(evidence, _NAMED[str(alert["type"])])
    return {"summary": sentence, "figures": figures}


def timing(alert: Mapping[str, Any]) -> str:
    """`since 2024-04, seen in data through 2024-11`."""
    return f"since {alert['period']}, seen in data through {alert['detected_at']}"
