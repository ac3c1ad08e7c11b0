"""GitHub Actions: actionlint, and the pipeline the issue asks for."""

from __future__ import annotations

import re
from typing import Any

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


def steps_of(tools: Tools, workflow: str) -> dict[str, list[dict[str, Any]]]:
    """The steps of each job of a workflow."""
    (doc,) = tools.yaml_docs(WORKFLOWS / workflow)
    return {name: job.get("steps", []) for name, job in doc["jobs"].items()}


def test_every_action_is_pinned_by_commit(tools: Tools) -> None:
    """A tag can be moved to other code; a commit cannot."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for steps in steps_of(tools, path.name).values():
            for step in steps:
                uses = step.get("uses")
                if uses and not uses.startswith("./"):
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (path.name, uses)
        # The comment beside each pin names the release it is.
        for line in path.read_text().splitlines():
            if "uses:" in line and "@" in line and "./" not in line:
                assert re.search(r"@[0-9a-f]{40} # v?\d+\.\d+\.\d+$", line), line


def test_python_packages_come_from_the_locks(tools: Tools) -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for steps in steps_of(tools, path.name).values():
            for step in steps:
                for command in re.findall(r"pip install[^\n]*", step.get("run", "")):
                    assert "--require-hashes -r requirements/" in command, command


def test_the_pushed_image_is_the_one_scanned_signed_and_deployed(tools: Tools) -> None:
    steps = steps_of(tools, "ci.yml")["images"]
    builds = [s for s in steps if "docker/build-push-action" in s.get("uses", "")]
    assert len(builds) == 1, "one build: a second one would not be the scanned image"
    (build,) = builds
    assert build["id"] == "build" and "push" in build["with"] and "load" in build["with"]
    names = [s.get("name", s.get("uses", "")) for s in steps]
    scan_ref = next(s for s in steps if s.get("name") == "The image to scan")
    assert scan_ref["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert '$IMAGE@$DIGEST"' in scan_ref["run"]
    trivy = next(s for s in steps if "trivy-action" in s.get("uses", ""))
    assert trivy["with"]["image-ref"] == "${{ env.SCAN_REF }}"
    sign = next(s for s in steps if s.get("name") == "Sign the scanned image")
    assert sign["run"] == 'cosign sign --yes "$IMAGE@$DIGEST"'
    assert names.index("Trivy image scan") < names.index("Sign the scanned image")
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "digest-${{ matrix.service }}"
    base = next(s for s in steps if s.get("name") == "Record base image digests")
    assert "imagetools inspect" in base["run"] and "|| true" not in base["run"]


def test_deploy_verifies_signatures_and_deploys_by_digest(tools: Tools) -> None:
    (steps,) = steps_of(tools, "deploy.yml").values()
    script = "\n".join(s.get("run", "") for s in steps)
    assert "cosign verify" in script
    assert "--set image.digests.$service=$digest" in script
    assert "$(cat helm-digests)" in script
    assert "/readyz" not in script  # not routed by the ingress
