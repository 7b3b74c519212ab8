"""Request and response bodies of the HTTP API, with the examples shown in /docs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, computed_field

from core.periods import PERIOD_TEXT, period_label
from serving.api.alert_schemas import (  # noqa: F401 - re-exported: one place to import bodies
    Alert,
    Figure,
    Incident,
    IncidentSilenceIn,
)

T = TypeVar("T")



def _as_utc(moment: datetime) -> datetime:
    """The database keeps naive UTC; the API says so (RFC 3339 needs an offset)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
Name = Annotated[str, Field(min_length=1, max_length=64)]

AlertType = Literal["emerging_trend", "surge", "decline", "new_drug", "route_shift",
                    "forecast_threshold", "linked_cases", "modus_operandi_shift"]
Severity = Literal["low", "medium", "high", "critical"]
AlertStatus = Literal["open", "acknowledged", "resolved", "silenced"]
RoleName = Literal["viewer", "analyst", "admin"]
Region = Literal["Africa", "Americas", "Asia", "Europe", "Oceania"]
GeoLevel = Literal["world", "region", "subregion", "country", "admin1"]
DrugLevel = Literal["group", "substance"]
Metric = Literal["seizures", "kg"]


class Page(BaseModel, Generic[T]):
    """One page of a list: `total` counts every match, `items` holds `limit` from `offset`."""

    total: int = Field(ge=0, examples=[132], description="Every item matching the query")
    limit: int = Field(ge=1, examples=[50], description="Items per page asked for")
    offset: int = Field(ge=0, examples=[0], description="Items skipped before this page")
    items: list[T] = Field(description="This page's items")


class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"] = Field(default="ok", description="Always `ok` when answering")


class Ready(BaseModel):
    """Whether the service can answer data questions yet."""

    status: Literal["ready", "not ready"] = Field(description="`ready` when all parts below are")
    database: bool = Field(description="The service database answers")
    model_loaded: bool = Field(description="A champion model (or its forecasts) is loaded")
    model_version: str | None = Field(default=None, examples=["3"],
                                      description="Registered version of the loaded champion")
    series_loaded: bool = Field(description="Built series are loaded")
    forecasts_source: str | None = Field(default=None, examples=["model version 3"],
                                         description="Where the served forecasts come from")


class SeriesInfo(BaseModel):
    """One series of the catalogue: a place, a drug and a measure."""

    unique_id: str = Field(examples=["ESP/cocaine/kg"], description="`{geo}/{drug}/{metric}`")
    geo_level: str = Field(examples=["country"],
                           description="`world`, `region`, `subregion` or `country`")
    geo: str = Field(examples=["ESP"], description="ISO3 for a country, else the UN name")
    region: str = Field(examples=["Europe"], description="The UN region the place lies in")
    drug_level: str = Field(examples=["group"], description="`group` or `substance`")
    drug: str = Field(examples=["cocaine"], description="The drug group or substance")
    metric: str = Field(examples=["kg"], description="`seizures` (count) or `kg` (quantity)")
    first_ds: str = Field(examples=["2019-01-01"], description="Start of the first period")
    last_ds: str = Field(examples=["2024-06-01"], description="Start of the last period")
    n_obs: int = Field(ge=0, description="Periods with a value (not-reporting gaps excluded)")
    last_reported: str | None = Field(
        default=None, examples=["2024-05-01"],
        description="Start of the last period with a value (None: never reported)")
    silent_periods: int = Field(default=0, ge=0, description=(
        "Periods from the last reported one to the last period of the data: how long the "
        "reporter has been silent"))


class Point(BaseModel):
    """One period of a series' history."""

    ds: str = Field(examples=["2024-05-01"], description="Start date of the period (ISO date)")
    y: float | None = Field(description="null when the geography reported nothing that period")

    @computed_field(description=PERIOD_TEXT, examples=["2024-05"])  # type: ignore[prop-decorator]
    @property
    def period(self) -> str:
        return period_label(self.ds)


class SeriesHistory(BaseModel):
    """A series and every period of its history."""

    series: SeriesInfo = Field(description="The series")
    points: list[Point] = Field(description="Its periods, oldest first")


class ForecastPoint(BaseModel):
    """One forecast period with its 80% and 95% prediction intervals."""

    ds: str = Field(examples=["2024-07-01"], description="Start date of the period (ISO date)")
    forecast: float | None = Field(examples=[812.5], description="The point forecast")
    lo_80: float | None = Field(default=None, examples=[640.0],
                                description="Lower bound of the 80% prediction interval")
    hi_80: float | None = Field(default=None, examples=[990.0],
                                description="Upper bound of the 80% prediction interval")
    lo_95: float | None = Field(default=None, examples=[550.0],
                                description="Lower bound of the 95% prediction interval")
    hi_95: float | None = Field(default=None, examples=[1090.0],
                                description="Upper bound of the 95% prediction interval")

    @computed_field(description=PERIOD_TEXT, examples=["2024-07"])  # type: ignore[prop-decorator]
    @property
    def period(self) -> str:
        return period_label(self.ds)


class Forecast(BaseModel):
    """The champion's forecast of one series."""

    unique_id: str = Field(examples=["ESP/cocaine/kg"], description="`{geo}/{drug}/{metric}`")
    model: str | None = Field(default=None, description="The model chosen for this series",
                              examples=["ets"])
    model_version: str | None = Field(
        default=None, description="Registered version of the champion that made it", examples=["3"])
    source: str = Field(examples=["model version 3"],
                        description="Where these forecasts come from")
    points: list[ForecastPoint] = Field(description="The forecast periods, oldest first")
    last_reported: str | None = Field(
        default=None, examples=["2016-03-01"],
        description="Start of the last period the series was reported in (None: never)")
    notes: list[str] = Field(default_factory=list, description=(
        "How to read the numbers: a series silent at the end is forecast as if it reported "
        "again; an aggregate is the sum of its countries' forecasts, the silent ones named"))


class AckResult(BaseModel):
    """The result of acknowledging."""

    id: str = Field(description="The alert or incident acknowledged")
    status: str = Field(examples=["acknowledged"], description="Its status now")
    acknowledged_by: str | None = Field(default=None, description="The key id that did it")


class SilenceIn(BaseModel):
    """Mute alerts matching every matcher given (at least one) until `expires_at`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "geo": "ESP", "drug": "cocaine", "type": "surge",
        "expires_at": "2030-01-01T00:00:00Z", "comment": "known port operation"}]})

    geo: Name | None = Field(default=None, examples=["ESP"], description="A place: ISO3, "
                             "country name, or region/subregion (covers its countries)")
    drug: Name | None = Field(default=None, examples=["cocaine"],
                              description="A drug group (covers its substances) or substance")
    type: AlertType | None = Field(default=None, description="An alert type")
    expires_at: datetime = Field(description="Until when (RFC 3339; UTC when no offset)")
    comment: str = Field(default="", max_length=1000, description="Why, for the others")


class SilenceOut(BaseModel):
    """A stored silence."""

    id: str = Field(description="The silence's id")
    geo: str | None = Field(description="Place matcher (null: any)")
    drug: str | None = Field(description="Drug matcher (null: any)")
    type: str | None = Field(description="Type matcher (null: any)")
    comment: str = Field(description="Why, as given")
    created_by: str | None = Field(description="Key id that set it (null: the CLI)")
    created_at: UtcDateTime | None = Field(description="When it was set")
    expires_at: UtcDateTime = Field(description="When it stops muting")


class RouteShare(BaseModel):
    """One period's share of one route value."""

    ds: str = Field(examples=["2024-05-01"], description="Start date of the period (ISO date)")
    key: str = Field(description="The value of the route attribute", examples=["ECU"])
    value: float = Field(examples=[1250.0], description="Seizures or kg through it that period")
    share: float = Field(ge=0, le=1, examples=[0.42], description="Its share of the period's "
                         "total, 0 to 1")

    @computed_field(description=PERIOD_TEXT, examples=["2024-05"])  # type: ignore[prop-decorator]
    @property
    def period(self) -> str:
        return period_label(self.ds)


class RouteFlows(BaseModel):
    """Shares of a route attribute's values over time."""

    drug: str | None = Field(examples=["cocaine"], description="Drug asked for (null: all)")
    destination: str | None = Field(examples=["Europe"],
                                    description="Destination asked for (null: all)")
    attribute: str = Field(examples=["departure_country"], description="The route attribute")
    metric: Metric = Field(description="`seizures` or `kg`")
    keys: list[str] = Field(description="Attribute values, largest total first")
    shares: list[RouteShare] = Field(description="Every period and value")


class SubscriptionIn(BaseModel):
    """Who gets which alert e-mails."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "email": "planner@example.org", "geos": ["Europe"], "drugs": ["cocaine"],
        "min_severity": "high"}]})

    email: EmailStr = Field(description="Where digests go")
    geos: list[Name] = Field(default_factory=list, max_length=50, examples=[["Europe"]],
                             description="Places (a region covers its countries); empty: all")
    drugs: list[Name] = Field(default_factory=list, max_length=50, examples=[["cocaine"]],
                              description="Drugs (a group covers its substances); empty: all")
    min_severity: Severity = Field(default="low", description="The least severity e-mailed")
    report: Literal["tactical-monthly", "strategic-quarterly"] | None = Field(
        default=None, description="Get this scheduled report of the places (PDF by e-mail, "
        "rendered with this key's regions) instead of alert digests")


class SubscriptionOut(BaseModel):
    """A stored subscription."""

    id: str = Field(description="The subscription's id")
    email: str = Field(description="Where digests go")
    geos: list[str] = Field(description="Places; empty: all")
    drugs: list[str] = Field(description="Drugs; empty: all")
    min_severity: str = Field(description="The least severity e-mailed")
    owner_key_id: str | None = Field(description="Key that made it (its scope applies); null: "
                                     "the CLI")
    report: str | None = Field(default=None, description="The scheduled report this "
                               "subscription asks for (tactical-monthly, strategic-quarterly); "
                               "null: alert digests")
    created_at: UtcDateTime | None = Field(description="When it was made")


class ModelVersion(BaseModel):
    """One registered version of the forecaster."""

    version: str = Field(examples=["3"], description="Registered version number")
    run_id: str | None = Field(description="MLflow run that trained it")
    aliases: list[str] = Field(examples=[["champion"]], description="Registry aliases on it")
    tags: dict[str, str] = Field(description="Registry tags")
    metrics: dict[str, float] = Field(examples=[{"mase": 0.81, "coverage_80": 0.79}],
                                      description="Backtest metrics of the version")
    setup: dict[str, str] = Field(default_factory=dict, description="Backtest setup: horizon, "
                                  "backtest windows and step, frequency, reconciliation",
                                  examples=[{"horizon": "12", "windows": "3", "freq": "MS"}])
    by_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Backtest figures per series class",
        examples=[{"lumpy": {"mase": 0.9, "coverage_80": 0.78, "msis_95": 12.1,
                             "n_series": 103}}])
    created_at: UtcDateTime = Field(description="When it was registered")
    is_champion: bool = Field(description="True for the version the champion alias names")
    serving: bool = Field(description="True for the version this process serves now")


class Models(BaseModel):
    """The registered model and its versions."""

    name: str = Field(examples=["narcotrend-forecaster"], description="Registered model name")
    champion: str | None = Field(examples=["3"], description="Version the alias names")
    serving: str | None = Field(examples=["3"], description="Version served now")
    versions: list[ModelVersion] = Field(description="Every version, newest first")


class Job(BaseModel):
    """A background job (retraining)."""

    id: str = Field(description="The job's id")
    kind: str = Field(examples=["retrain"], description="What it does")
    status: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="Where it stands")
    requested_by: str | None = Field(description="Key id that asked for it")
    result: dict[str, Any] | None = Field(default=None, description="Its result when done")
    error: str | None = Field(default=None, description="Why it failed")
    created_at: UtcDateTime = Field(description="When it was asked for")
    started_at: UtcDateTime | None = Field(default=None, description="When it started")
    finished_at: UtcDateTime | None = Field(default=None, description="When it ended")


class KeyIn(BaseModel):
    """A new API key."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "role": "viewer", "regions": ["Europe"], "name": "Lisbon desk"}]})

    role: RoleName = Field(description="`viewer`, `analyst` or `admin`")
    regions: list[Region] | None = Field(default=None, description="UN regions it may see; "
                                         "null: all")
    name: str = Field(default="", max_length=128, description="Who holds it")


class Me(BaseModel):
    """The calling key, as the dashboard shows it."""

    id: str = Field(description="The key's id")
    prefix: str = Field(examples=["nt_x3Hk9aQ2"], description="Its first characters")
    role: RoleName = Field(description="Its role")
    regions: list[str] | None = Field(examples=[["Europe"]], description="Its regions; null: "
                                      "all")
    name: str = Field(description="Who holds it")


class KeyInfo(BaseModel):
    """A stored API key (never the key itself)."""

    id: str = Field(description="The key's id")
    prefix: str = Field(description="Its first characters")
    role: str = Field(description="Its role")
    regions: list[str] | None = Field(description="Its regions; null: all")
    name: str = Field(description="Who holds it")
    created_at: UtcDateTime = Field(description="When it was made")
    revoked_at: UtcDateTime | None = Field(description="When it was revoked, if it was")


class KeyCreated(KeyInfo):
    """A key just made, with the key shown once."""

    key: str = Field(description="The key itself, shown this once only")


class Error(BaseModel):
    """An error: `detail` is a stable sentence a client may match on."""

    detail: str = Field(examples=["unknown series"], description="What went wrong")


_ERROR_DESCRIPTIONS = {
    400: "Well formed, but a value is not acceptable (the detail says which and why)",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "Not found (or outside the key's regions)",
    409: "Conflicts with the current state",
    503: "The data or model this needs is not loaded yet",
}


_VALIDATION_TEXT = {
    "HTTPValidationError.detail": "Every problem found in the request",
    "ValidationError.loc": "Where the problem is: `query`, `path` or `body`, then the name",
    "ValidationError.msg": "What is wrong, in a sentence",
    "ValidationError.type": "The kind of problem (a stable word)",
    "ValidationError.input": "The value given",
    "ValidationError.ctx": "Details of the rule broken (e.g. the limit)",
}


def describe_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's own 422 schemas with their properties described (so every property is)."""
    components = schema.get("components", {}).get("schemas", {})
    for key, text in _VALIDATION_TEXT.items():
        name, prop = key.split(".")
        found = components.get(name, {}).get("properties", {}).get(prop)
        if found is not None:
            found.setdefault("description", text)
    return schema


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error codes a route may answer with."""
    return {code: {"model": Error, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}
