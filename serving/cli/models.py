"""Model commands: `narcotrend train`, `narcotrend models list` and `models promote VERSION`.

Thin shells over `training.train.train`, `training.registry.list_model_versions` and
`training.registry.promote`; heavy modules are imported inside the commands.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serving.cli.app import (
    app,
    console,
    models_app,
    print_json,
    print_table,
    settings,
)

DRIVER_SHARE = 0.2  # a series making this share of a volume-weighted figure is named beside it


@app.command("train")
def train(
    horizon: Annotated[int | None, typer.Option(
        "--horizon", help="Periods to forecast (default: the `horizon` setting).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Backtest, choose, fit and forecast every series; log to MLflow and register the model."""
    from core.progress import Progress
    from training.train import train as run_train

    cfg = settings()
    with Progress(console) as progress:  # a bar on a terminal, stage lines in a log
        summary = run_train(cfg, horizon=horizon, progress=progress)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"trained {summary['n_series']:,} series in {summary['seconds']:.0f}s: backtest MASE "
        f"{summary['mase']:.3f} (plain mean over series: a few sparse ones can set it; by "
        f"volume and class below), coverage {summary['coverage_80']:.0%} (80%) and "
        f"{summary['coverage_95']:.0%} (95%); {summary['fallbacks']} fallback series; version "
        f"{summary['version']} ({'champion' if summary['promoted'] else 'not promoted'}: "
        f"{summary['promotion']})", highlight=False, soft_wrap=True)
    console.print(_class_lines(summary), highlight=False, soft_wrap=True)


def _class_lines(summary: dict[str, Any]) -> str:
    """Volume-weighted MASE per unit, the figures per series class, and what fell back."""
    drivers = summary.get("wmase_drivers", {})
    weighted = ", ".join(f"{unit} {v:.3f}" + _driver(drivers.get(unit, []))
                         for unit, v in summary.get("wmase", {}).items())
    lines = [f"volume-weighted MASE: {weighted or 'n/a'}"]
    if summary.get("skipped"):
        lines.append("  not forecast: " + "; ".join(
            f"{n} series ({reason})" for reason, n in summary.get("skipped_by_reason", {}).items()))
    for name, fig in sorted(summary.get("by_class", {}).items()):
        if name.startswith("class."):
            lines.append(f"  {name[6:]:<15} {fig.get('n_series', 0):>6.0f} series  MASE "
                         f"{fig.get('mase', float('nan')):.3f}  MSIS(95) "
                         f"{fig.get('msis_95', float('nan')):.2f}  coverage "
                         f"{fig.get('coverage_80', float('nan')):.0%}/"
                         f"{fig.get('coverage_95', float('nan')):.0%}")
    for name, reasons in sorted(summary.get("fallbacks_by_class", {}).items()):
        lines.append(f"  fell back: {name}: " + "; ".join(f"{n} {reason}" for reason, n in
                                                          reasons.items()))
    return "\n".join(lines)


def _driver(top: list[dict[str, Any]]) -> str:
    """`` (54% from IND:NCB AJMER/opioids/kg, MASE 182,632)`` when one series makes a fifth or
    more of a volume-weighted figure, so no one reads a single record haul as the whole picture."""
    if not top or top[0]["share"] < DRIVER_SHARE:
        return ""
    first = top[0]
    return f" ({first['share']:.0%} from {first['unique_id']}, MASE {first['mase']:,.0f})"


def _row(version: dict[str, Any]) -> dict[str, Any]:
    metrics = version["metrics"]
    n_series = metrics.get("n_series")  # MLflow stores every metric as a float
    return {"version": version["version"], "champion": "champion" in version["aliases"],
            "created_at": version["created_at"], "run_id": version["run_id"],
            "mase": metrics.get("mase"), "coverage_80": metrics.get("coverage_80"),
            "coverage_95": metrics.get("coverage_95"),
            "n_series": None if n_series is None else int(n_series),
            "n_fallback": None if metrics.get("n_fallback") is None
            else int(metrics["n_fallback"]),
            "wmase": {k.split(".", 1)[1]: v for k, v in metrics.items()
                      if k.startswith("wmase.")},
            "promotion": version["tags"].get("promotion"),
            "setup": version.get("setup", {}), "by_class": version.get("by_class", {})}


@models_app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")] = False,
) -> None:
    """Registered versions, newest first, with backtest metrics and the champion marked."""
    from training.registry import list_model_versions

    cfg = settings()
    rows = [_row(v) for v in list_model_versions(cfg)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no registered versions of {cfg.registered_model_name}: run "
                      "`narcotrend train`")
        return
    from rich.table import Table

    table = Table(title=cfg.registered_model_name)
    for col in ("version", "champion", "MASE", "wMASE", "cov 80", "cov 95", "series",
                "setup", "per class (series: MASE, MSIS 95, cov 80/95)", "created",
                "promotion"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["version"], "*" if row["champion"] else "",
                      _fmt(row["mase"], "{:.3f}"),
                      "\n".join(f"{unit} {v:.3f}" for unit, v in row["wmase"].items()),
                      _fmt(row["coverage_80"], "{:.0%}"), _fmt(row["coverage_95"], "{:.0%}"),
                      _fmt(row["n_series"], "{:.0f}") + (
                          f"\n{row['n_fallback']} fell back" if row["n_fallback"] else ""),
                      " ".join(f"{k}={v}" for k, v in row["setup"].items()
                               if k != "reconciliation"),
                      "\n".join(f"{name} ({fig.get('n_series', 0):.0f}): "
                                f"{fig.get('mase', float('nan')):.2f}, "
                                f"{fig.get('msis_95', float('nan')):.1f}, "
                                f"{fig.get('coverage_80', float('nan')):.0%}/"
                                f"{fig.get('coverage_95', float('nan')):.0%}"
                                for name, fig in sorted(row["by_class"].items())),
                      f"{row['created_at']:%Y-%m-%d %H:%M}", row["promotion"] or "")
    print_table(table)


def _fmt(value: float | None, pattern: str) -> str:
    return "" if value is None else pattern.format(value)


@models_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="Registered version to make champion.")],
) -> None:
    """Move the `champion` alias to VERSION by hand."""
    from training.registry import promote as move_alias

    result = move_alias(settings(), version)
    console.print(f"champion is now version {result['version']}"
                  + (f" (was {result['previous']})" if result["previous"] else ""),
                  highlight=False)
