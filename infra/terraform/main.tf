# Taskstream on DigitalOcean: a VPC, a Kubernetes cluster with an application pool and a Kafka
# pool, and a managed PostgreSQL reachable only from the cluster. Kafka itself runs in the cluster
# (Strimzi, infra/strimzi/cloud); the chart is installed by CI (docs/deploy/cloud.md).

locals {
  prefix = "${var.name}-${var.environment}"
  tags   = [var.name, var.environment]
}

resource "digitalocean_vpc" "main" {
  name     = "${local.prefix}-vpc"
  region   = var.region
  ip_range = var.vpc_ip_range
}

data "digitalocean_kubernetes_versions" "current" {
  version_prefix = var.kubernetes_version_prefix
}

resource "digitalocean_kubernetes_cluster" "main" {
  name          = local.prefix
  region        = var.region
  version       = data.digitalocean_kubernetes_versions.current.latest_version
  vpc_uuid      = digitalocean_vpc.main.id
  auto_upgrade  = true
  surge_upgrade = true
  ha            = var.environment == "production"
  tags          = local.tags

  maintenance_policy {
    day        = "sunday"
    start_time = "03:00"
  }

  node_pool {
    name       = "apps"
    size       = var.app_node_size
    auto_scale = true
    min_nodes  = var.app_node_count.min
    max_nodes  = var.app_node_count.max
    labels     = { "taskstream.io/pool" = "apps" }
    tags       = local.tags
  }
}

# Brokers and controllers get their own nodes (one of each per node, by anti-affinity).
resource "digitalocean_kubernetes_node_pool" "kafka" {
  cluster_id = digitalocean_kubernetes_cluster.main.id
  name       = "kafka"
  size       = var.kafka_node_size
  node_count = 3
  labels     = { "taskstream.io/pool" = "kafka" }
  tags       = local.tags
}

resource "digitalocean_database_cluster" "postgres" {
  name                 = "${local.prefix}-pg"
  engine               = "pg"
  version              = var.postgres_version
  size                 = var.database_size
  region               = var.region
  node_count           = var.database_node_count
  private_network_uuid = digitalocean_vpc.main.id
  tags                 = local.tags

  maintenance_window {
    day  = "sunday"
    hour = "04:00:00"
  }

  # Every task, account and audit record lives here: a plan that would replace or delete the
  # cluster fails instead. Remove this on purpose (and take a backup) to tear down.
  lifecycle {
    prevent_destroy = true
  }
}

resource "digitalocean_database_db" "taskstream" {
  cluster_id = digitalocean_database_cluster.postgres.id
  name       = var.name

  lifecycle {
    prevent_destroy = true
  }
}

resource "digitalocean_database_user" "taskstream" {
  cluster_id = digitalocean_database_cluster.postgres.id
  name       = var.name
}

# Only the Kubernetes cluster's nodes reach the database.
resource "digitalocean_database_firewall" "postgres" {
  cluster_id = digitalocean_database_cluster.postgres.id

  rule {
    type  = "k8s"
    value = digitalocean_kubernetes_cluster.main.id
  }
}
