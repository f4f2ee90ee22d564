# Plan 2.3 "KMS keys for encryption": one customer-managed key per environment for EKS secrets,
# Aurora, ElastiCache, Secrets Manager, the backup bucket and the backup vault. Rotation on.
data "aws_caller_identity" "current" {}

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
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/autolytiq-${var.environment}"
  target_key_id = aws_kms_key.this.key_id
}
