terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # Partial configuration: bucket, key, region and dynamodb_table come from autolytiq.yaml
  # (terraformState), passed by `autolytiq deploy` (terraform.init) as -backend-config.
  backend "s3" {}
}
