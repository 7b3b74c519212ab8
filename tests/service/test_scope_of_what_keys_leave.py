"""Region scope beyond reading: what a scoped key leaves behind (silences, subscriptions) stays
inside its regions, a revoked key's subscriptions stop, and actions that concern every region
(retraining, its jobs, managing keys, everyone's subscriptions) need a key without scope."""

from __future__ import annotations

from api_home import Seeded

from serving.alerting.outbox import select_recipient_alerts
from serving.alerting.scopes import key_scopes
from serving.alerting.silences import apply_silences
from serving.alerting.subscriptions import list_subscriptions
from serving.api.auth import create_key, revoke_key
from serving.db import Alert, session_scope

FOREVER = "2099-01-01T00:00:00Z"


def new_key(seeded: Seeded, role: str, regions: list[str] | None) -> tuple[dict, str]:
    """Auth headers of a fresh key, and its id."""
    with session_scope(seeded.settings.service_database_url) as session:
        raw, row = create_key(session, role, regions, name=f"{role} {regions}")
        key_id = row.id
    return {"Authorization": f"Bearer {raw}"}, key_id


def route_alert(client, seeded: Seeded) -> dict:
    """The seeded route shift: cocaine to Europe, Ecuador gaining."""
    alerts = client.get("/v1/alerts", headers=seeded.auth("admin"),
                        params={"type": "route_shift", "limit": 500}).json()["items"]
    return next(a for a in alerts if a["fingerprint"] == "fp-route")


def test_a_scoped_keys_silence_does_not_mute_alerts_outside_its_regions(client, seeded: Seeded):
    americas, _ = new_key(seeded, "analyst", ["Americas"])
    alert = route_alert(client, seeded)
    assert alert["region"] == "Europe" and "ECU" in alert["route"]["gaining"]

    made = client.post("/v1/silences", headers=americas,
                       json={"geo": "ECU", "type": "route_shift", "expires_at": FOREVER})
    assert made.status_code == 201
    with session_scope(seeded.settings.service_database_url) as session:
        apply_silences(session)
    assert client.get(f"/v1/alerts/{alert['id']}",
                      headers=seeded.auth("admin")).json()["status"] == "open"

    # the same matcher from an unscoped analyst does mute it: the scope, not the matcher, held
    client.post("/v1/silences", headers=seeded.auth("analyst"),
                json={"geo": "ECU", "type": "route_shift", "expires_at": FOREVER})
    with session_scope(seeded.settings.service_database_url) as session:
        apply_silences(session)
    assert client.get(f"/v1/alerts/{alert['id']}",
                      headers=seeded.auth("admin")).json()["status"] == "silenced"


def test_a_scoped_subscription_gets_its_regions_only_and_nothing_once_revoked(client,
                                                                              seeded: Seeded):
    americas, key_id = new_key(seeded, "viewer", ["Americas"])
    made = client.post("/v1/subscriptions", headers=americas,
                       json={"email": "desk@example.org", "geos": ["ECU", "Americas"]})
    assert made.status_code == 201
    url = seeded.settings.service_database_url

    def chosen(scoped: bool = True) -> dict:
        with session_scope(url) as session:
            alerts = [a.to_dict() for a in session.query(Alert)]
            subs = list_subscriptions(session, owner_key_id=key_id)
            scopes = key_scopes(session, [key_id]) if scoped else None
            return select_recipient_alerts(subs, alerts, {}, scopes).get("desk@example.org", {})

    told = chosen()
    assert told and {a["region"] for a in told.values()} == {"Americas"}
    assert "fp-route" not in told
    assert "fp-route" in chosen(scoped=False)  # what the route shift's ECU would have matched

    with session_scope(url) as session:
        revoke_key(session, key_id)
    assert chosen() == {}


def test_actions_on_every_region_need_a_key_without_scope(client, seeded: Seeded):
    europe_admin, _ = new_key(seeded, "admin", ["Europe"])
    europe_analyst = seeded.auth("europe")
    refusals = [
        client.post("/v1/retrain", headers=europe_analyst),
        client.get("/v1/jobs/any", headers=europe_analyst),
        client.get("/v1/keys", headers=europe_admin),
        client.post("/v1/keys", headers=europe_admin, json={"role": "admin"}),
        client.delete("/v1/keys/any", headers=europe_admin),
    ]
    for response in refusals:
        assert response.status_code == 403, response.request.url
        assert "without a region scope" in response.json()["detail"]
    assert client.get("/v1/jobs/any", headers=seeded.auth("viewer")).status_code == 403
    assert client.get("/v1/jobs/any", headers=seeded.auth("analyst")).status_code == 404
    assert client.get("/v1/keys", headers=seeded.auth("admin")).status_code == 200

    # a scoped admin sees and removes its own subscriptions only, not other desks' addresses
    other = client.post("/v1/subscriptions", headers=seeded.auth("viewer"),
                        json={"email": "asia@example.org", "geos": ["Asia"]}).json()
    own = client.post("/v1/subscriptions", headers=europe_admin,
                      json={"email": "eu-admin@example.org"}).json()
    listed = {s["email"] for s in client.get("/v1/subscriptions", headers=europe_admin).json()}
    assert listed == {"eu-admin@example.org"}
    assert client.delete(f"/v1/subscriptions/{other['id']}",
                         headers=europe_admin).status_code == 404
    assert client.delete(f"/v1/subscriptions/{own['id']}", headers=europe_admin).status_code == 204
    everyone = {s["email"] for s in client.get("/v1/subscriptions",
                                                headers=seeded.auth("admin")).json()}
    assert "asia@example.org" in everyone
