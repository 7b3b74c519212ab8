"""Fixtures of the service tests: the seeded API home (`seeded`, shared by the tests of one
module) and a TestClient on it (`client`), from `api_home.py`."""

from api_home import client, seeded  # noqa: F401 - fixtures, registered by being here
