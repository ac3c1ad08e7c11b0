"""GitHub Actions: actionlint, and the pipeline the issue asks for."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import APP_IDS, REPO, Tools

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

WORKFLOWS = REPO / ".github" / "workflows"


def test_actionlint_passes(tools: Tools) -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files
    tools.ok("actionlint", "-no-color", *files)


def test_pipeline_tests_scans_builds_and_deploys(tools: Tools) -> None:
    (ci,) = tools.yaml_docs(WORKFLOWS / "ci.yml")
    jobs = ci["jobs"]
    runs = {
        job: " ".join(step.get("run", "") for step in body.get("steps", []))
        for job, body in jobs.items()
    }
    uses = {
        job: " ".join(step.get("uses", "") for step in body.get("steps", []))
        for job, body in jobs.items()
    }
    assert "make test" in runs["test"]
    for scanner in ("pip-audit", "bandit", "npm --prefix web audit"):
        assert scanner in runs["security"], scanner
    assert {m["service"] for m in jobs["images"]["strategy"]["matrix"]["include"]} == APP_IDS
    assert "aquasecurity/trivy-action" in uses["images"]
    assert "docker/build-push-action" in uses["images"]
    assert jobs["images"]["permissions"]["packages"] == "write"
    assert set(jobs["images"]["needs"]) == {"test", "security"}
    for job, environment in (("deploy-staging", "staging"), ("deploy-production", "production")):
        assert jobs[job]["if"] == "startsWith(github.ref, 'refs/tags/v')"
        assert jobs[job]["uses"] == "./.github/workflows/deploy.yml"
        assert jobs[job]["with"]["environment"] == environment
    assert jobs["deploy-production"]["needs"] == ["deploy-staging"]


def test_deploy_uses_helm_with_the_environment(tools: Tools) -> None:
    (deploy,) = tools.yaml_docs(WORKFLOWS / "deploy.yml")
    (job,) = deploy["jobs"].values()
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    script = " ".join(step.get("run", "") for step in job["steps"])
    assert "helm upgrade --install" in script
    assert "values-cloud.yaml" in script and "--atomic" in script
    assert job["concurrency"]["cancel-in-progress"] is False
