# Plan 2.3 "S3 buckets for backups" and the backup configuration of 2.2: a private, versioned,
# encrypted backup bucket, and AWS Backup of the Aurora cluster, copied to the DR region in prod.
data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "backups" {
  #checkov:skip=CKV2_AWS_62:nothing consumes object events; access is recorded by S3 server access logs (access-logs.tf)
  #checkov:skip=CKV_AWS_144:the database's DR copies go to the DR region through AWS Backup (copy_action); this bucket holds versioned ad-hoc exports
  bucket = "autolytiq-${var.environment}-backups-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    id     = "tier-and-expire"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "INTELLIGENT_TIERING"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_backup_vault" "main" {
  name        = "autolytiq-${var.environment}"
  kms_key_arn = var.kms_key_arn
}

# The DR copy needs a vault (and a key) in the DR region.
resource "aws_kms_key" "dr" {
  count                   = var.cross_region_copy ? 1 : 0
  provider                = aws.dr
  description             = "autolytiq ${var.environment}: DR backup copies"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  # The account administers it (IAM policies decide who uses it); AWS Backup gets grants through them.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_backup_vault" "dr" {
  count       = var.cross_region_copy ? 1 : 0
  provider    = aws.dr
  name        = "autolytiq-${var.environment}-dr"
  kms_key_arn = aws_kms_key.dr[0].arn
}

resource "aws_backup_plan" "this" {
  name = "autolytiq-${var.environment}"

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.main.name
    schedule          = "cron(0 5 * * ? *)"

    lifecycle {
      delete_after = var.retention_days
    }

    dynamic "copy_action" {
      for_each = aws_backup_vault.dr
      content {
        destination_vault_arn = copy_action.value.arn
        lifecycle {
          delete_after = var.retention_days
        }
      }
    }
  }
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup" {
  name               = "autolytiq-${var.environment}-backup"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
  ])
  role       = aws_iam_role.backup.name
  policy_arn = each.value
}

resource "aws_backup_selection" "this" {
  count        = var.selection_enabled ? 1 : 0
  name         = "autolytiq-${var.environment}"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = var.resource_arns
}

moved {
  from = aws_backup_selection.this
  to   = aws_backup_selection.this[0]
}
