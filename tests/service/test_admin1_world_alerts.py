"""End to end on the built-in world: its divisions (Ecuador, Spain...) become admin1 series, the
detectors raise department-level alerts on them with their country's region, and the API shows
an Americas department's alert to an Americas-scoped key and never to a Europe-scoped one."""

from __future__ import annotations

from typing import Any

import pytest
from api_home import Seeded

from bench.detect import prepare
from core.home import read_routes, read_series
from core.settings import Settings
from serving.alerting.alerts_store import upsert_alerts
from serving.api.auth import create_key
from serving.db import session_scope
from training.detection_config import DetectionConfig
from training.detection_engine import detect_frame

AS_OF = "2023-08"  # a few months after seed 7's Ecuadorian cocaine surge (2023-05)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Seeded:
    """This module's home, served by the conftest's `client`: the seed-7 world built and
    detected as of AS_OF with the default detection levels (admin1 among them), with two
    region-scoped keys."""
    settings = Settings(home=tmp_path_factory.mktemp("admin1-world"))
    prepare(settings.home, seed=7)
    config = DetectionConfig()
    assert "admin1" in config.geo_levels
    alerts = detect_frame(read_series(settings.paths), read_routes(settings.paths), AS_OF,
                          config=config)
    keys: dict[str, str] = {}
    with session_scope(settings.service_database_url) as session:
        upsert_alerts(session, alerts, as_of=AS_OF)
        keys["admin"], _ = create_key(session, "admin", name="admin")
        keys["americas"], _ = create_key(session, "analyst", ["Americas"], name="Americas desk")
        keys["europe"], _ = create_key(session, "analyst", ["Europe"], name="Europe desk")
    return Seeded(settings, keys)


def _department_alerts(client: Any, seeded: Seeded, key: str) -> list[dict[str, Any]]:
    response = client.get("/v1/alerts", params={"limit": 500}, headers=seeded.auth(key))
    assert response.status_code == 200, response.text
    return [a for a in response.json()["items"] if a["geo_level"] == "admin1"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_world_department_alerts_carry_their_country_region(client, seeded):
    alerts = _department_alerts(client, seeded, "admin")
    regions = {a["geo"].partition(":")[0]: a["region"] for a in alerts}
    assert regions.get("ECU") == "Americas"
    assert regions.get("ESP") == "Europe"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_world_americas_department_alert_shows_to_americas_and_not_to_europe(client, seeded):
    americas = _department_alerts(client, seeded, "americas")
    europe = _department_alerts(client, seeded, "europe")
    ecuador = [a for a in americas if a["geo"].startswith("ECU:")]
    assert ecuador, "no Ecuadorian department alert"
    assert {a["region"] for a in americas} == {"Americas"}
    assert {a["region"] for a in europe} == {"Europe"}
    assert not {a["id"] for a in ecuador} & {a["id"] for a in europe}
    hidden = client.get(f"/v1/alerts/{ecuador[0]['id']}", headers=seeded.auth("europe"))
    assert hidden.status_code == 404
