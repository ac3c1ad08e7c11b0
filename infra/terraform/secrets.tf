# The chart's Secrets in a secret manager, for the External Secrets Operator (values-cloud.yaml
# externalSecrets, infra/external-secrets/cluster-secret-store.yaml). DigitalOcean has none of its
# own: Doppler holds them, one project per environment, one config (k8s) the cluster reads with a
# read-only service token. Generated values are random here (their only copy besides Doppler is
# this state, which already holds the database password: keep the state bucket private). Entry
# names are those values.yaml maps the Secrets' keys to (externalSecrets.app and the tokens).
# smtp-url and vapid-private-key are optional and not generated: add them in Doppler and to
# externalSecrets.app (docs/deploy/cloud.md).

locals {
  database_url = format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    digitalocean_database_user.taskstream.name,
    digitalocean_database_user.taskstream.password,
    digitalocean_database_cluster.postgres.private_host,
    digitalocean_database_cluster.postgres.port,
    digitalocean_database_db.taskstream.name,
  )
  dapr_state_connection_string = format(
    "host=%s port=%d user=%s password=%s database=%s sslmode=require",
    digitalocean_database_cluster.postgres.private_host,
    digitalocean_database_cluster.postgres.port,
    digitalocean_database_user.taskstream.name,
    digitalocean_database_user.taskstream.password,
    digitalocean_database_db.taskstream.name,
  )
}

resource "doppler_project" "main" {
  name        = local.prefix
  description = "Taskstream ${var.environment}: the Kubernetes Secrets of the chart (External Secrets Operator)"
}

resource "doppler_environment" "kubernetes" {
  project = doppler_project.main.name
  slug    = "k8s"
  name    = "Kubernetes"
}

# 64 letters and digits, about 380 bits: HS256 wants a key of at least 256.
resource "random_password" "jwt_secret" {
  length  = 64
  special = false
}

resource "random_password" "audit_signing_key" {
  length  = 64
  special = false
}

resource "random_password" "dapr_app_token" {
  length  = 64
  special = false
}

resource "random_password" "dapr_api_token" {
  length  = 64
  special = false
}

resource "doppler_secret" "database_url" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "DATABASE_URL"
  value   = local.database_url
}

resource "doppler_secret" "dapr_state_connection_string" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "DAPR_STATE_CONNECTION_STRING"
  value   = local.dapr_state_connection_string
}

resource "doppler_secret" "jwt_secret" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "JWT_SECRET"
  value   = random_password.jwt_secret.result
}

resource "doppler_secret" "audit_signing_key" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "AUDIT_SIGNING_KEY"
  value   = random_password.audit_signing_key.result
}

resource "doppler_secret" "dapr_app_token" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "DAPR_APP_TOKEN"
  value   = random_password.dapr_app_token.result
}

resource "doppler_secret" "dapr_api_token" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "DAPR_API_TOKEN"
  value   = random_password.dapr_api_token.result
}

# What the ClusterSecretStore authenticates with: read-only, this config only.
resource "doppler_service_token" "external_secrets" {
  project = doppler_project.main.name
  config  = doppler_environment.kubernetes.slug
  name    = "external-secrets-${var.environment}"
  access  = "read"
}
