terraform {
  # 1.6.3: the S3 backend's `endpoints` block (docs/deploy/cloud.md's -backend-config) came with
  # 1.6.0's S3 backend rewrite, and `skip_s3_checksum` (which Spaces needs) with 1.6.3.
  required_version = ">= 1.6.3"

  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.68"
    }
    # The secret manager of the chart's Secrets (secrets.tf) and the values generated for it.
    doppler = {
      source  = "DopplerHQ/doppler"
      version = "~> 1.13"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State lives in a Spaces bucket (S3-compatible) so CI and people share it; see
  # docs/deploy/cloud.md for `terraform init -backend-config=...`.
  backend "s3" {
    key                         = "taskstream/terraform.tfstate"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true
  }
}

provider "digitalocean" {
  # Reads DIGITALOCEAN_TOKEN from the environment.
}

provider "doppler" {
  # Reads DOPPLER_TOKEN from the environment (a personal or service-account token that may
  # create projects; the cluster gets only the read-only service token of secrets.tf).
}
