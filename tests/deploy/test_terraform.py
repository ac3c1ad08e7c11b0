"""Terraform for DigitalOcean: formatted, parseable, and with the outputs the chart needs.

`terraform validate` needs the provider plugins, which come from the Terraform registry, out of
reach here; so the checks are `terraform fmt -check` (Terraform 1.5.7 built from its Go module)
and a parse with python-hcl2 that asserts the resources and outputs exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.conftest import CHART, REPO, Tools

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

TERRAFORM = REPO / "infra" / "terraform"

PARSE = """
import hcl2, json, pathlib, sys
out = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.tf")):
    with path.open() as f:
        out[path.name] = hcl2.load(f)
print(json.dumps(out))
"""


def unquote(key: str) -> str:
    """python-hcl2 keeps the quotes of block labels."""
    return key.strip('"')


@pytest.fixture(scope="module")
def hcl(tools: Tools) -> dict[str, Any]:
    """Every block of every .tf file, merged by block type."""
    parsed: dict[str, dict[str, Any]] = json.loads(
        tools.ok("tools-python", "-c", PARSE, str(TERRAFORM))
    )
    merged: dict[str, Any] = {
        "resource": {},
        "data": {},
        "output": {},
        "variable": {},
        "terraform": [],
    }
    for blocks in parsed.values():
        for item in blocks.get("resource", []) + blocks.get("data", []):
            kind = "resource" if item in blocks.get("resource", []) else "data"
            for rtype, named in item.items():
                for name, body in named.items():
                    merged[kind][f"{unquote(rtype)}.{unquote(name)}"] = body
        for kind in ("output", "variable"):
            for item in blocks.get(kind, []):
                for name, body in item.items():
                    merged[kind][unquote(name)] = body
        merged["terraform"] += blocks.get("terraform", [])
    return merged


def test_terraform_is_formatted(tools: Tools) -> None:
    tools.ok("terraform", "fmt", "-check", "-diff", "-recursive", str(TERRAFORM))


def test_cluster_node_pools_and_managed_postgres_exist(hcl: dict[str, Any]) -> None:
    resources = hcl["resource"]
    for needed in (
        "digitalocean_vpc.main",
        "digitalocean_kubernetes_cluster.main",
        "digitalocean_kubernetes_node_pool.kafka",
        "digitalocean_database_cluster.postgres",
        "digitalocean_database_db.taskstream",
        "digitalocean_database_user.taskstream",
        "digitalocean_database_firewall.postgres",
    ):
        assert needed in resources, needed
    assert resources["digitalocean_database_cluster.postgres"]["engine"] == '"pg"'
    assert resources["digitalocean_kubernetes_node_pool.kafka"]["node_count"] == 3
    assert "data" in hcl and "digitalocean_kubernetes_versions.current" in hcl["data"]
    (terraform,) = hcl["terraform"]
    providers = terraform["required_providers"][0]
    assert unquote(providers["digitalocean"]["source"]) == "digitalocean/digitalocean"


def test_outputs_feed_the_cloud_values_and_secrets(hcl: dict[str, Any]) -> None:
    outputs = hcl["output"]
    for needed in (
        "cluster_name",
        "vpc_ip_range",
        "database_port",
        "database_url",
        "dapr_state_connection_string",
        "helm_values",
    ):
        assert needed in outputs, needed
    assert outputs["database_url"]["sensitive"] is True
    assert outputs["dapr_state_connection_string"]["sensitive"] is True
    cloud_values = (CHART / "values-cloud.yaml").read_text()
    for used in ("vpc_ip_range", "database_port"):
        assert f"TF: {used}" in cloud_values


def test_every_variable_is_described_and_typed(hcl: dict[str, Any]) -> None:
    for name, body in hcl["variable"].items():
        assert body.get("description"), name
        assert body.get("type"), name


def version_floor(constraint: str) -> tuple[int, ...]:
    """The lowest version a `>= x.y.z` constraint admits."""
    match = re.fullmatch(r'"?>=\s*(\d+)\.(\d+)\.(\d+)"?', constraint.strip())
    assert match, constraint
    return tuple(int(part) for part in match.groups())


def test_required_version_admits_only_terraform_that_reads_the_backend(
    hcl: dict[str, Any],
) -> None:
    """The S3 backend's `endpoints` (the guide's -backend-config) arrived in 1.6.0 and
    `skip_s3_checksum` (set in versions.tf for Spaces) in 1.6.3: an older `terraform init`
    fails on them, so required_version must say so before it gets there."""
    (terraform,) = hcl["terraform"]
    floor = version_floor(terraform["required_version"])
    backend = (TERRAFORM / "versions.tf").read_text()
    guide = (REPO / "docs" / "deploy" / "cloud.md").read_text()
    needs = (1, 5, 0)
    if "endpoints=" in guide:
        needs = max(needs, (1, 6, 0))
    if "skip_s3_checksum" in backend:
        needs = max(needs, (1, 6, 3))
    assert floor >= needs, (floor, needs)


def test_the_database_cannot_be_destroyed_by_a_plan(hcl: dict[str, Any]) -> None:
    for name in ("digitalocean_database_cluster.postgres", "digitalocean_database_db.taskstream"):
        (lifecycle,) = hcl["resource"][name]["lifecycle"]
        assert lifecycle["prevent_destroy"] is True, name


def test_the_secret_manager_holds_every_entry_the_chart_syncs(
    tools: Tools, hcl: dict[str, Any]
) -> None:
    """Each entry the chart's ExternalSecrets read (values.yaml externalSecrets) is a Doppler
    secret of one config, the generated ones random (never typed); the cluster's token for that
    config reads only, and leaves Terraform only as a sensitive output."""
    (values,) = tools.yaml_docs(CHART / "values.yaml")
    mapping = values["externalSecrets"]
    wanted = set(mapping["app"].values()) | {mapping["daprAppToken"], mapping["daprApiToken"]}
    resources = hcl["resource"]
    entries = {
        unquote(body["name"]): body
        for name, body in resources.items()
        if name.startswith("doppler_secret.")
    }
    assert wanted <= set(entries), wanted - set(entries)
    (token,) = [b for n, b in resources.items() if n.startswith("doppler_service_token.")]
    assert unquote(token["access"]) == "read"
    assert {b["config"] for b in entries.values()} == {token["config"]}
    for generated in ("JWT_SECRET", "AUDIT_SIGNING_KEY", "DAPR_APP_TOKEN", "DAPR_API_TOKEN"):
        source = re.fullmatch(r"\$\{(random_password\.\w+)\.result\}", entries[generated]["value"])
        assert source, entries[generated]["value"]
        assert resources[source.group(1)]["length"] >= 32
        assert resources[source.group(1)]["special"] is False  # safe in a URL, a header, a shell
    for from_database in ("DATABASE_URL", "DAPR_STATE_CONNECTION_STRING"):
        assert entries[from_database]["value"].startswith("${local."), from_database
    output = hcl["output"]["doppler_service_token"]
    assert output["sensitive"] is True
    (terraform,) = hcl["terraform"]
    providers = terraform["required_providers"][0]
    assert unquote(providers["doppler"]["source"]) == "DopplerHQ/doppler"
    assert unquote(providers["random"]["source"]) == "hashicorp/random"
