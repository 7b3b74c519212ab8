"""The alert digest: a recipient's alerts as incidents, rendering, building the e-mail.

One digest per recipient per cycle. Its entries are incidents (serving/alerting/incidents.py,
the grouping the API and dashboard use): a region-level alert and the same alert in the
countries it covers make ONE entry listing them; the words come from serving/alerting/evidence.py.
HTML comes from an autoescaped Jinja2 template (evidence text can never inject markup), with
an inline PNG chart per top entry (multipart/related, Content-ID), plus a plain-text part.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader

from core.home import FORECAST_COLUMNS
from serving import charts
from serving.alerting.evidence import describe, timing
from serving.alerting.incidents import TYPE_LABELS, Incident
from serving.alerting.subscriptions import severity_rank

TEMPLATES_DIR = Path(__file__).with_name("templates")
MAX_CHARTS = 3
MAX_ENTRIES = 50


def entry_words(entry: Incident) -> dict[str, Any]:
    """The lead alert's sentence, figures and timing, as every surface shows them."""
    return {**describe(entry.lead), "timing": timing(entry.lead)}


def _read_rows(path: Path, unique_ids: list[str], columns: list[str]) -> pd.DataFrame | None:
    if not unique_ids or not path.is_file():
        return None
    if not set(columns) <= set(pq.read_schema(path).names):
        return None
    return pd.read_parquet(path, columns=columns, filters=[("unique_id", "in", unique_ids)])


def load_chart_data(series_path: Path, forecasts_path: Path, unique_ids: Iterable[str]
                    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """History (`unique_id, ds, y`) and forecasts of the given series; None for a missing file."""
    ids = sorted(set(unique_ids))
    return (_read_rows(series_path, ids, ["unique_id", "ds", "y"]),
            _read_rows(forecasts_path, ids, FORECAST_COLUMNS[:7]))


def entry_chart_spec(entry: Incident, history: pd.DataFrame,
                     forecast: pd.DataFrame | None) -> dict[str, Any]:
    """The lead series' chart with the alert's period marked: the spec the dashboard draws."""
    lead = entry.lead
    return charts.series_spec(history, forecast, title=entry.chart_title,
                              metric=lead.get("metric", ""), mark_period=lead["period"])


def render_chart_png(history: pd.DataFrame, forecast: pd.DataFrame | None = None, *,
                     entry: Incident) -> bytes:
    """The entry's chart as PNG for the e-mail (vl-convert, same spec as the dashboard)."""
    return charts.to_png(entry_chart_spec(entry, history, forecast))


def digest_subject(entries: Sequence[Incident]) -> str:
    """"Narcotrend: 4 alerts in 2 incidents, top severity HIGH" (the words of the summary line
    the CLI and the dashboard show)."""
    count, alerts = len(entries), sum(len(e.alerts) for e in entries)
    top = max((e.severity for e in entries), key=severity_rank, default="low")
    return (f"Narcotrend: {alerts} alert{'' if alerts == 1 else 's'} in {count} incident"
            f"{'' if count == 1 else 's'}, top severity {top.upper()}")


@cache
def _environments() -> tuple[Environment, Environment]:
    """HTML environment with autoescape on; text environment with it off (plain text)."""
    loader = FileSystemLoader(TEMPLATES_DIR)
    html = Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
    text = Environment(loader=loader, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    return html, text


def render_digest(entries: Sequence[Incident], *, recipient: str, dashboard_url: str,
                  generated_at: datetime) -> tuple[str, str, str]:
    """(subject, html, text) of a digest; entries beyond `MAX_ENTRIES` are counted, not shown."""
    html_env, text_env = _environments()
    context = {
        "entries": list(entries)[:MAX_ENTRIES],
        "hidden": max(0, len(entries) - MAX_ENTRIES),
        "recipient": recipient,
        "dashboard_url": dashboard_url,
        "alert_url": lambda alert: f"{dashboard_url}?alert={alert['id']}",
        "generated_at": generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "subject": digest_subject(entries),
        "type_labels": TYPE_LABELS,
        "words": entry_words,
    }
    html = html_env.get_template("digest.html.j2").render(context)
    text = text_env.get_template("digest.txt.j2").render(context)
    return context["subject"], html, text


def sender_domain(mail_from: str) -> str:
    """The domain of the From address, for Message-IDs and Content-IDs."""
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "narcotrend.local"


def build_message(*, subject: str, html: str, text: str, images: Sequence[Mapping[str, str]],
                  mail_from: str, recipient: str, message_id: str, date: datetime
                  ) -> EmailMessage:
    """The digest as MIME: alternative(text, related(html, png...)), stable Message-ID.

    `images` are dicts with `cid` (without angle brackets) and `png_b64`. The same outbox row
    always gives the same message, so a retried send carries the same Message-ID.
    """
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject
    msg["From"] = mail_from
    msg["To"] = recipient
    msg["Date"] = format_datetime(date.replace(tzinfo=date.tzinfo or UTC), usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for image in images:
        html_part.add_related(base64.b64decode(image["png_b64"]), maintype="image",
                              subtype="png", cid=f"<{image['cid']}>",
                              filename=f"{image['cid'].partition('@')[0]}.png",
                              disposition="inline")
    return msg
