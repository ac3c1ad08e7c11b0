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
  description = "Secret taskstream-secrets, key database-url."
  sensitive   = true
  value = format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    digitalocean_database_user.taskstream.name,
    digitalocean_database_user.taskstream.password,
    digitalocean_database_cluster.postgres.private_host,
    digitalocean_database_cluster.postgres.port,
    digitalocean_database_db.taskstream.name,
  )
}

output "dapr_state_connection_string" {
  description = "Secret taskstream-secrets, key dapr-state-connection-string."
  sensitive   = true
  value = format(
    "host=%s port=%d user=%s password=%s database=%s sslmode=require",
    digitalocean_database_cluster.postgres.private_host,
    digitalocean_database_cluster.postgres.port,
    digitalocean_database_user.taskstream.name,
    digitalocean_database_user.taskstream.password,
    digitalocean_database_db.taskstream.name,
  )
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
