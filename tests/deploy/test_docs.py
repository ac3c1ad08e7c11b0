"""The deployment guides cover the steps the issue lists."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import REPO

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
