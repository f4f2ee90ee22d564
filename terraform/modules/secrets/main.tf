# Plan 3.5: the eight secrets of an environment, autolytiq/<env>/<name>. Five are generated here
# (database and redis credentials come from their modules; jwt, pii-encryption and session are
# random). smtp, resend and external-apis are third-party credentials: terraform creates them with
# REPLACE_ME placeholders and never overwrites them again; `autolytiq deploy` (secrets.expected)
# detects the placeholders and fills them in from hidden prompts or environment variables.
locals {
  generated    = ["database", "redis", "jwt", "pii-encryption", "session"]
  placeholders = ["smtp", "resend", "external-apis"]

  generated_values = {
    database = jsonencode({
      engine   = "postgres"
      host     = var.database.host
      port     = var.database.port
      dbname   = var.database.dbname
      username = var.database.username
      password = var.database.password
    })
    redis = jsonencode({
      host       = var.redis.host
      port       = var.redis.port
      auth_token = var.redis.auth_token
      tls        = true
    })
    jwt              = jsonencode({ secret = random_password.jwt.result })
    "pii-encryption" = jsonencode({ key = random_id.pii.b64_std })
    session          = jsonencode({ secret = random_password.session.result })
  }

  placeholder_values = {
    smtp = jsonencode({
      host     = "REPLACE_ME"
      port     = "587"
      username = "REPLACE_ME"
      password = "REPLACE_ME"
      from     = "REPLACE_ME"
    })
    resend = jsonencode({ api_key = "REPLACE_ME" })
    "external-apis" = jsonencode({
      sentry_dsn            = "REPLACE_ME"
      datadog_api_key       = ""
      stripe_secret_key     = "REPLACE_ME"
      stripe_webhook_secret = "REPLACE_ME"
    })
  }
}

resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "random_password" "session" {
  length  = 64
  special = false
}

# AES-256 key for PII field encryption: 32 random bytes.
resource "random_id" "pii" {
  byte_length = 32
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:third-party keys are rotated at their issuer and app keys by a release; rotation needs a Lambda per secret type, and External Secrets re-reads every hour
  for_each                = toset(concat(local.generated, local.placeholders))
  name                    = "autolytiq/${var.environment}/${each.key}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
}

# for_each over the names, not the values: the values are sensitive and cannot drive for_each.
resource "aws_secretsmanager_secret_version" "generated" {
  for_each      = toset(local.generated)
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = local.generated_values[each.key]
}

resource "aws_secretsmanager_secret_version" "placeholder" {
  for_each      = toset(local.placeholders)
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = local.placeholder_values[each.key]

  # The real values are put by people (or autolytiq) later; terraform must never reset them.
  lifecycle {
    ignore_changes = [secret_string]
  }
}
