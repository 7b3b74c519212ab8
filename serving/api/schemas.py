"""Request and response bodies of the HTTP API, with the examples shown in /docs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

T = TypeVar("T")


def _as_utc(moment: datetime) -> datetime:
    """The database keeps naive UTC; the API says so (RFC 3339 needs an offset)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
Name = Annotated[str, Field(min_length=1, max_length=64)]

AlertType = Literal["emerging_trend", "surge", "decline", "new_drug", "route_shift",
                    "forecast_threshold"]
Severity = Literal["low", "medium", "high", "critical"]
AlertStatus = Literal["open", "acknowledged", "resolved", "silenced"]
RoleName = Literal["viewer", "analyst", "admin"]
Region = Literal["Africa", "Americas", "Asia", "Europe", "Oceania"]
GeoLevel = Literal["world", "region", "subregion", "country"]
DrugLevel = Literal["group", "substance"]
Metric = Literal["seizures", "kg"]


class Page(BaseModel, Generic[T]):
    """One page of a list: `total` counts every match, `items` holds `limit` from `offset`."""

    total: int = Field(ge=0, examples=[132])
    limit: int = Field(ge=1, examples=[50])
    offset: int = Field(ge=0, examples=[0])
    items: list[T]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    database: bool
    model_loaded: bool
    model_version: str | None = Field(default=None, examples=["3"])
    series_loaded: bool
    forecasts_source: str | None = Field(default=None, examples=["model version 3"])


class SeriesInfo(BaseModel):
    unique_id: str = Field(examples=["ESP/cocaine/kg"])
    geo_level: str = Field(examples=["country"])
    geo: str = Field(examples=["ESP"])
    region: str = Field(examples=["Europe"])
    drug_level: str = Field(examples=["group"])
    drug: str = Field(examples=["cocaine"])
    metric: str = Field(examples=["kg"])
    first_ds: str = Field(examples=["2019-01-01"])
    last_ds: str = Field(examples=["2024-06-01"])
    n_obs: int = Field(ge=0, description="Periods with a value (not-reporting gaps excluded)")


class Point(BaseModel):
    ds: str = Field(examples=["2024-05-01"])
    y: float | None = Field(description="null when the geography reported nothing that period")


class SeriesHistory(BaseModel):
    series: SeriesInfo
    points: list[Point]


class ForecastPoint(BaseModel):
    ds: str = Field(examples=["2024-07-01"])
    forecast: float | None = Field(examples=[812.5])
    lo_80: float | None = None
    hi_80: float | None = None
    lo_95: float | None = None
    hi_95: float | None = None


class Forecast(BaseModel):
    unique_id: str = Field(examples=["ESP/cocaine/kg"])
    model: str | None = Field(default=None, description="The model chosen for this series",
                              examples=["ets"])
    model_version: str | None = Field(
        default=None, description="Registered version of the champion that made it", examples=["3"])
    source: str = Field(examples=["model version 3"])
    points: list[ForecastPoint]


class Alert(BaseModel):
    """An alert in the one JSON shape of DESIGN section 5."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "4f1c…", "type": "emerging_trend", "geo_level": "country", "geo": "ESP",
        "region": "Europe", "drug_level": "group", "drug": "cocaine", "metric": "kg",
        "period": "2024-05", "detected_at": "2024-06", "severity": "high", "score": 4.2,
        "evidence": {"change": "+180% over 6 months"}, "status": "open",
        "fingerprint": "9a0e…"}]})

    id: str
    type: str
    geo_level: str
    geo: str
    region: str
    drug_level: str
    drug: str
    metric: str
    period: str
    detected_at: str
    severity: str
    score: float
    route: dict[str, Any] | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    status: str
    fingerprint: str


class AckResult(BaseModel):
    id: str
    status: str = Field(examples=["acknowledged"])
    acknowledged_by: str | None = None


class SilenceIn(BaseModel):
    """Mute alerts matching every matcher given (at least one) until `expires_at`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "geo": "ESP", "drug": "cocaine", "type": "surge",
        "expires_at": "2030-01-01T00:00:00Z", "comment": "known port operation"}]})

    geo: Name | None = None
    drug: Name | None = None
    type: AlertType | None = None
    expires_at: datetime
    comment: str = Field(default="", max_length=1000)


class SilenceOut(BaseModel):
    id: str
    geo: str | None
    drug: str | None
    type: str | None
    comment: str
    created_by: str | None
    created_at: UtcDateTime | None
    expires_at: UtcDateTime


class RouteShare(BaseModel):
    ds: str = Field(examples=["2024-05-01"])
    key: str = Field(description="The value of the route attribute", examples=["ECU"])
    value: float = Field(examples=[1250.0])
    share: float = Field(ge=0, le=1, examples=[0.42])


class RouteFlows(BaseModel):
    drug: str | None = Field(examples=["cocaine"])
    destination: str | None = Field(examples=["Europe"])
    attribute: str = Field(examples=["departure_country"])
    metric: Metric
    keys: list[str] = Field(description="Attribute values, largest total first")
    shares: list[RouteShare]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "email": "planner@example.org", "geos": ["Europe"], "drugs": ["cocaine"],
        "min_severity": "high"}]})

    email: EmailStr
    geos: list[Name] = Field(default_factory=list, max_length=50)
    drugs: list[Name] = Field(default_factory=list, max_length=50)
    min_severity: Severity = "low"


class SubscriptionOut(BaseModel):
    id: str
    email: str
    geos: list[str]
    drugs: list[str]
    min_severity: str
    owner_key_id: str | None
    created_at: UtcDateTime | None


class ModelVersion(BaseModel):
    version: str = Field(examples=["3"])
    run_id: str | None
    aliases: list[str] = Field(examples=[["champion"]])
    tags: dict[str, str]
    metrics: dict[str, float] = Field(examples=[{"mase": 0.81, "coverage_80": 0.79}])
    setup: dict[str, str] = Field(default_factory=dict, description="horizon, backtest "
                                  "windows and step, frequency, reconciliation",
                                  examples=[{"horizon": "12", "windows": "3", "freq": "MS"}])
    by_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="backtest figures per series class",
        examples=[{"lumpy": {"mase": 0.9, "coverage_80": 0.78, "msis_95": 12.1,
                             "n_series": 103}}])
    created_at: UtcDateTime
    is_champion: bool
    serving: bool = Field(description="True for the version this process serves now")


class Models(BaseModel):
    name: str = Field(examples=["narcotrend-forecaster"])
    champion: str | None = Field(examples=["3"])
    serving: str | None = Field(examples=["3"])
    versions: list[ModelVersion]


class Job(BaseModel):
    id: str
    kind: str = Field(examples=["retrain"])
    status: Literal["queued", "running", "succeeded", "failed"]
    requested_by: str | None
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: UtcDateTime
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "role": "viewer", "regions": ["Europe"], "name": "Lisbon desk"}]})

    role: RoleName
    regions: list[Region] | None = None
    name: str = Field(default="", max_length=128)


class Me(BaseModel):
    """The calling key, as the dashboard shows it."""

    id: str
    prefix: str = Field(examples=["nt_x3Hk9aQ2"])
    role: RoleName
    regions: list[str] | None = Field(examples=[["Europe"]])
    name: str


class KeyInfo(BaseModel):
    id: str
    prefix: str
    role: str
    regions: list[str] | None
    name: str
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None


class KeyCreated(KeyInfo):
    key: str = Field(description="The key itself, shown this once only")


class Error(BaseModel):
    """An error: `detail` is a stable sentence a client may match on."""

    detail: str = Field(examples=["unknown series"])


_ERROR_DESCRIPTIONS = {
    400: "Well formed, but a value is not acceptable (the detail says which and why)",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "Not found (or outside the key's regions)",
    409: "Conflicts with the current state",
    503: "The data or model this needs is not loaded yet",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error codes a route may answer with."""
    return {code: {"model": Error, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}
