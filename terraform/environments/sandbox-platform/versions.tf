terraform {
  # 1.11: write-only arguments (secrets that never enter state, modules/secrets and modules/database).
  required_version = ">= 1.11.0"

  # hashicorp/aws only: ephemeral aws_secretsmanager_random_password and the write-only
  # secret_string_wo / master_password_wo arguments are in 5.100.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket, key, region and dynamodb_table come from autolytiq.yaml
  # (terraformState), passed by `autolytiq deploy` (terraform.init) as -backend-config.
  backend "s3" {}
}
