"""The deployment guides cover the steps the issue lists."""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import build_schema, parse, validate

from tests.deploy.conftest import CHART, REPO, Tools

pytestmark = [pytest.mark.deploy]

DOCS = REPO / "docs" / "deploy"


def test_minikube_guide_goes_from_an_empty_cluster_to_a_browser() -> None:
    text = (DOCS / "minikube.md").read_text()
    for step in (
        "minikube start",
        "strimzi-kafka-operator",
        "infra/strimzi/minikube",
        "dapr/dapr",
        "minikube image build",
        "infra/helm/dev-secrets.sh",
        "helm upgrade --install taskstream infra/helm/taskstream",
        "values-minikube.yaml",
        "minikube addons enable ingress",
        "http://taskstream.local",
        "tilt up",
    ):
        assert step in text, step


def test_cloud_guide_covers_terraform_secrets_and_the_pipeline() -> None:
    text = (DOCS / "cloud.md").read_text()
    for step in (
        "terraform apply",
        "terraform output",
        "doctl kubernetes cluster kubeconfig save",
        "taskstream-secrets",
        "values-cloud.yaml",
        "production",
        "kube-prometheus-stack",
    ):
        assert step in text, step


def test_cloud_guide_takes_the_secrets_from_the_secret_manager() -> None:
    """No Secret of the chart is made by hand: the External Secrets Operator makes them from the
    entries Terraform wrote; the one credential given by hand is the operator's read-only token."""
    text = (DOCS / "cloud.md").read_text()
    made_by_hand = re.findall(r"create secret generic\s+(\S+)", text)
    assert made_by_hand == ["doppler-token"], made_by_hand
    for step in (
        "charts.external-secrets.io",
        "infra/external-secrets/cluster-secret-store.yaml",
        "output -raw doppler_service_token",
        "DOPPLER_TOKEN",
        "get externalsecret",
    ):
        assert step in text, step
    assert (REPO / "infra" / "external-secrets" / "cluster-secret-store.yaml").is_file()


@pytest.mark.parametrize("guide", ["minikube.md", "cloud.md"])
def test_each_guide_ends_with_a_verification_that_the_schema_accepts(guide: str) -> None:
    """Pods 2/2, a sign-up with curl, a subscription that receives an event, and the workers'
    side; every GraphQL document the section sends is valid against the exported schema."""
    text = (DOCS / guide).read_text()
    section = text.split("## Verify your install", 1)[1].split("\n## ", 1)[0]
    for step in ("2/2", "signUp", "graphql-transport-ws", "subscription { taskEvents", "auditLog"):
        assert step in section, step
    schema = build_schema((REPO / "graphql_schema" / "schema.graphql").read_text())
    documents = [
        doc.replace('\\"', '"')
        for doc in re.findall(r'"((?:mutation|subscription|\{)[^\n]*?\})"(?:,|\}|\s|$)', section)
    ]
    assert len(documents) >= 4, documents
    for document in documents:
        errors = validate(schema, parse(document))
        assert not errors, (document, errors)


def values_paths(tools: Tools) -> set[str]:
    """Every dotted path of values.yaml (maps only; a list ends the path)."""
    (values,) = tools.yaml_docs(CHART / "values.yaml")
    found: set[str] = set()

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if key == "__file__":
                    continue
                path = f"{prefix}.{key}" if prefix else key
                found.add(path)
                walk(path, child)

    walk("", values)
    return found


@pytest.mark.parametrize("guide", ["minikube.md", "cloud.md"])
def test_the_chart_values_a_guide_names_exist(tools: Tools, guide: str) -> None:
    text = (DOCS / guide).read_text()
    known = values_paths(tools)
    tops = {path for path in known if "." not in path}
    # --set of this chart (the other charts' --set name keys it has not) and `a.b` in the text.
    named = set(re.findall(r"--set ([A-Za-z][\w.]*)=", text))
    named |= set(re.findall(r"`([a-z][A-Za-z]*(?:\.[A-Za-z<>]+)+)[`=]", text))
    named = {path for path in named if path.split(".")[0] in tops}
    assert named
    for path in named:
        # A map keyed by name (image.digests.<image>) is named by its map.
        stem = path.split(".<", 1)[0]
        assert stem in known or any(
            stem.startswith(k + ".") for k in known if k.endswith("digests")
        ), path


def test_backup_guide_names_every_schema_and_table_the_database_holds(tools: Tools) -> None:
    """docs/deploy/backup.md lists every schema the migrations create, every table of them, the
    migrations' version table and Dapr's state tables under the chart's prefix: a new schema or
    table left out of the guide fails here."""
    text = (DOCS / "backup.md").read_text()
    migrations = "\n".join(p.read_text() for p in (REPO / "alembic" / "versions").glob("*.py"))
    schemas = set(re.findall(r"CREATE SCHEMA IF NOT EXISTS (\w+)", migrations))
    assert schemas >= {"gateway", "recurrence", "notifications", "audit"}
    for schema in schemas:
        assert f"schema `{schema}`" in text, schema
    tables = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\.(\w+)", migrations))
    tables |= {
        (schema, table)
        for table, schema in re.findall(
            r"create_table\(\s*\"(\w+)\".*?schema=\"(\w+)\"", migrations, re.DOTALL
        )
        if schema in schemas
    }
    assert tables
    rows = {line.split("|")[1]: line for line in text.splitlines() if line.startswith("| schema")}
    for schema, table in tables:
        assert f"`{table}`" in rows[f" schema `{schema}` "], (schema, table)
    (values,) = tools.yaml_docs(CHART / "values.yaml")
    prefix = values["dapr"]["statestore"]["tablePrefix"]
    assert f"`public.{prefix}state`" in text and "`public.alembic_version`" in text
    for command in ("pg_dump --format=custom", "pg_restore", "--single-transaction"):
        assert command in text, command
