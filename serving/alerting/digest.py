"""The alert digest: grouping a recipient's alerts into entries, rendering, building the e-mail.

One digest per recipient per cycle. A region- or subregion-level alert and the same alert (same
type, drug, metric and period) in the countries it covers make ONE entry listing the countries.
HTML comes from an autoescaped Jinja2 template (evidence text can never inject markup), with
an inline PNG chart per top entry (multipart/related, Content-ID), plus a plain-text part.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from core.geography import geo_covers, geo_name
from core.taxonomy import substance_groups
from serving.alerting.subscriptions import severity_rank

TEMPLATES_DIR = Path(__file__).with_name("templates")
MAX_CHARTS = 3
MAX_ENTRIES = 50
_LEVEL_ORDER = {"world": 0, "region": 1, "subregion": 2, "country": 3}
TYPE_LABELS = {"emerging_trend": "Emerging trend", "surge": "Surge", "decline": "Decline",
               "new_drug": "New drug", "route_shift": "Route shift",
               "forecast_threshold": "Forecast above threshold", "linked_cases": "Linked cases"}


@dataclass
class DigestEntry:
    """One line of a digest: the broadest alert and the alerts below it it stands for."""

    lead: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)
    chart_cid: str | None = None

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [self.lead, *self.members]

    @property
    def severity(self) -> str:
        return max((a["severity"] for a in self.alerts), key=severity_rank)

    @property
    def score(self) -> float:
        return max(float(a.get("score") or 0.0) for a in self.alerts)

    @property
    def countries(self) -> list[str]:
        """The places (and substances) listed under the lead alert, each with its severity:
        "Spain (ESP, high)", "Eastern Asia (medium)", "Hong Kong (HKG, high): crack cocaine"."""
        out = []
        for alert in self.members:
            name = geo_name(alert["geo"])
            place = (f"{name} ({alert['severity']})" if name == alert["geo"]
                     else f"{name} ({alert['geo']}, {alert['severity']})")
            if alert["drug"] != self.lead["drug"]:
                place += f": {alert['drug']}"
            out.append(place)
        return out

    @property
    def summary(self) -> str:
        """The detector's one-line reading of the evidence, when it gives one."""
        return str((self.lead.get("evidence") or {}).get("summary", ""))

    @property
    def evidence_rows(self) -> list[tuple[str, Any]]:
        """The evidence numbers other than the summary, as (name, value) rows."""
        evidence = self.lead.get("evidence") or {}
        return [(str(k), v) for k, v in evidence.items() if k != "summary"]

    @property
    def chart_title(self) -> str:
        lead = self.lead
        return f"{geo_name(lead['geo'])}: {lead['drug']} ({lead.get('metric', '')})"

    @property
    def title(self) -> str:
        lead = self.lead
        label = TYPE_LABELS.get(lead["type"], lead["type"])
        return f"{label}: {lead['drug']} ({lead.get('metric', '')}) in {geo_name(lead['geo'])}"

    @property
    def unique_id(self) -> str:
        """The series the lead alert is about, `{geo}/{drug}/{metric}` (ARCHITECTURE.md)."""
        return f"{self.lead['geo']}/{self.lead['drug']}/{self.lead.get('metric', '')}"


def _group_key(alert: Mapping[str, Any], groups: Mapping[str, str]) -> tuple[Any, ...]:
    """Alerts that may be one event: same type, metric, period and drug group."""
    drug = str(alert["drug"])
    family = groups.get(drug.lower(), drug) if alert.get("drug_level") == "substance" else drug
    return (alert["type"], family.lower(), alert.get("metric"), alert["period"])


def _breadth(alert: Mapping[str, Any]) -> tuple[int, int]:
    """Broader first: by geographic level, then group before substance."""
    return (_LEVEL_ORDER.get(alert.get("geo_level", ""), 9),
            0 if alert.get("drug_level") == "group" else 1)


def _covers(lead: Mapping[str, Any], alert: Mapping[str, Any]) -> bool:
    """True when `lead` stands for `alert`: its place covers the alert's place (or is it) and
    its drug is the alert's or the alert's group."""
    same_drug = lead["drug"] == alert["drug"] or lead.get("drug_level") == "group"
    return same_drug and (lead["geo"] == alert["geo"] or geo_covers(lead["geo"], alert))


def group_alerts(alerts: Sequence[Mapping[str, Any]]) -> list[DigestEntry]:
    """Entries for a recipient's alerts, most severe first.

    Broader alerts are placed first; a narrower alert of the same type, metric and period
    joins the entry of a broader one that covers it: its place (a region covers its countries)
    and its drug (a group covers its substances), so one event seen in HKG, Eastern Asia and
    Asia, as cocaine and as cocaine hydrochloride, is one entry. Route shifts are never merged
    (their routes differ).
    """
    groups = substance_groups()
    ordered = sorted(alerts, key=lambda a: (*_breadth(a), a["geo"], a["fingerprint"]))
    entries: list[DigestEntry] = []
    by_key: dict[tuple[Any, ...], list[DigestEntry]] = {}
    for alert in ordered:
        key = _group_key(alert, groups)
        candidates = [] if alert["type"] == "route_shift" else by_key.get(key, [])
        parent = next((e for e in candidates
                       if _breadth(e.lead) < _breadth(alert) and _covers(e.lead, alert)), None)
        if parent is not None:
            parent.members.append(dict(alert))
            continue
        entry = DigestEntry(lead=dict(alert))
        entries.append(entry)
        by_key.setdefault(key, []).append(entry)
    entries.sort(key=lambda e: (-severity_rank(e.severity), -e.score,
                                _LEVEL_ORDER.get(e.lead.get("geo_level", ""), 9), e.lead["geo"]))
    return entries


def digest_subject(entries: Sequence[DigestEntry]) -> str:
    """"Narcotrend: 3 alerts, top severity HIGH"."""
    count = len(entries)
    top = max((e.severity for e in entries), key=severity_rank, default="low")
    return f"Narcotrend: {count} alert{'' if count == 1 else 's'}, top severity {top.upper()}"


@cache
def _environments() -> tuple[Environment, Environment]:
    """HTML environment with autoescape on; text environment with it off (plain text)."""
    loader = FileSystemLoader(TEMPLATES_DIR)
    html = Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True)
    text = Environment(loader=loader, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    return html, text


def render_digest(entries: Sequence[DigestEntry], *, recipient: str, dashboard_url: str,
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
