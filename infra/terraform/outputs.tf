output "cluster_name" {
  description = "doctl kubernetes cluster kubeconfig save <cluster_name>"
  value       = digitalocean_kubernetes_cluster.main.name
}

output "cluster_id" {
  value = digitalocean_kubernetes_cluster.main.id
}

output "kubernetes_version" {
  value = digitalocean_kubernetes_cluster.main.version
}

output "kube_api_endpoint" {
  value = digitalocean_kubernetes_cluster.main.endpoint
}

output "vpc_ip_range" {
  description = "Chart value networkPolicy.database.cidr"
  value       = digitalocean_vpc.main.ip_range
}

output "database_host" {
  description = "Private host name of the managed PostgreSQL (inside the VPC)."
  value       = digitalocean_database_cluster.postgres.private_host
}

output "database_port" {
  description = "Chart value networkPolicy.database.port"
  value       = digitalocean_database_cluster.postgres.port
}

output "database_name" {
  value = digitalocean_database_db.taskstream.name
}

output "database_user" {
  value = digitalocean_database_user.taskstream.name
}

output "database_url" {
  description = "In Doppler as DATABASE_URL (secrets.tf), synced into Secret taskstream-secrets, key database-url."
  sensitive   = true
  value       = local.database_url
}

output "dapr_state_connection_string" {
  description = "In Doppler as DAPR_STATE_CONNECTION_STRING, synced into taskstream-secrets, key dapr-state-connection-string."
  sensitive   = true
  value       = local.dapr_state_connection_string
}

output "doppler_project" {
  description = "The Doppler project holding this environment's secrets (config: doppler_config)."
  value       = doppler_project.main.name
}

output "doppler_config" {
  description = "The Doppler config the External Secrets Operator reads."
  value       = doppler_environment.kubernetes.slug
}

output "doppler_service_token" {
  description = "Read-only token of that config, for the ClusterSecretStore: Secret external-secrets/doppler-token, key dopplerToken."
  sensitive   = true
  value       = doppler_service_token.external_secrets.key
}

output "helm_values" {
  description = "Values for the chart, on top of values-cloud.yaml: terraform output -raw helm_values > tf-values.yaml"
  value = yamlencode({
    networkPolicy = {
      database = {
        cidr = digitalocean_vpc.main.ip_range
        port = digitalocean_database_cluster.postgres.port
      }
    }
  })
}
