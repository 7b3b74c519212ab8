"""/openapi.json describes every schema property and every query, path and header parameter,
and the alert shape points at a document that exists in the repository."""

from __future__ import annotations

from pathlib import Path

from serving.api.app import create_app

REPO = Path(__file__).resolve().parents[2]


def undescribed(schema: dict) -> list[str]:
    """`Schema.property` and `METHOD path: parameter` entries without a description."""
    missing = []
    for name, component in schema["components"]["schemas"].items():
        for prop, body in component.get("properties", {}).items():
            if not body.get("description"):
                missing.append(f"{name}.{prop}")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if not parameter.get("description"):
                    missing.append(f"{method.upper()} {path}: {parameter['name']}")
    return missing


def test_every_property_and_parameter_of_the_openapi_schema_has_a_description(tmp_path):
    from core.settings import Settings

    schema = create_app(Settings(home=tmp_path)).openapi()
    assert len(schema["components"]["schemas"]) > 20 and len(schema["paths"]) > 20
    assert undescribed(schema) == []


def test_the_alert_schema_names_a_document_of_the_repository_and_real_evidence_keys(tmp_path):
    from core.settings import Settings

    schema = create_app(Settings(home=tmp_path)).openapi()["components"]["schemas"]
    assert "docs/alerts.md" in schema["Alert"]["description"]
    assert (REPO / "docs" / "alerts.md").is_file()
    example = schema["Alert"]["examples"][0]
    assert "change" not in example["evidence"] and "observed" in example["evidence"]
    assert "period" in schema["ForecastPoint"]["properties"]
    assert "ds" in schema["ForecastPoint"]["properties"]
