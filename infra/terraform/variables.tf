variable "name" {
  description = "Prefix of every resource's name."
  type        = string
  default     = "taskstream"
}

variable "environment" {
  description = "staging or production; part of every name and tag."
  type        = string
  default     = "staging"

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "DigitalOcean region of the cluster, the database and the VPC."
  type        = string
  default     = "fra1"
}

variable "vpc_ip_range" {
  description = "Private range of the VPC; the chart's NetworkPolicy allows the database in it."
  type        = string
  default     = "10.110.0.0/20"
}

variable "kubernetes_version_prefix" {
  description = "Newest DOKS patch release of this minor version is used."
  type        = string
  default     = "1.33."
}

variable "app_node_size" {
  description = "Droplet size of the application node pool (gateway, workers, Dapr)."
  type        = string
  default     = "s-4vcpu-8gb"
}

variable "app_node_count" {
  description = "Minimum and maximum nodes of the application pool (cluster autoscaler)."
  type        = object({ min = number, max = number })
  default     = { min = 3, max = 6 }
}

variable "kafka_node_size" {
  description = "Droplet size of the Kafka pool: three brokers and three KRaft controllers."
  type        = string
  default     = "s-4vcpu-8gb"
}

variable "database_size" {
  description = "Size slug of the managed PostgreSQL nodes."
  type        = string
  default     = "db-s-2vcpu-4gb"
}

variable "database_node_count" {
  description = "Managed PostgreSQL nodes: 1 primary, plus standbys for failover."
  type        = number
  default     = 2
}

variable "postgres_version" {
  description = "Major version of the managed PostgreSQL."
  type        = string
  default     = "17"
}
