# Plan 2.3 "KMS keys for encryption": one customer-managed key per environment for EKS secrets,
# Aurora, ElastiCache, Secrets Manager, ECR, CloudWatch Logs, the backup bucket and the backup
# vault. Rotation on.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
}

resource "aws_kms_key" "this" {
  description             = "autolytiq ${var.environment}: data at rest"
  deletion_window_in_days = var.deletion_window_days
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      # CloudWatch Logs encrypts the log groups (EKS control plane, VPC flow logs, services) with
      # this key, and only for log groups of this account and region.
      {
        Sid       = "CloudWatchLogsEncryptsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/autolytiq-${var.environment}"
  target_key_id = aws_kms_key.this.key_id
}
