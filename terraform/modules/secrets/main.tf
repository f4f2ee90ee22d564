# Plan 3.5: the eight secrets of an environment, autolytiq/<env>/<name>. Five are generated here
# (database and redis credentials come from their modules; jwt, pii-encryption and session are
# random). smtp, resend and external-apis are third-party credentials: terraform creates them with
# REPLACE_ME placeholders and never overwrites them again; `autolytiq deploy` (secrets.expected)
# detects the placeholders and fills them in from hidden prompts or environment variables.
#
# The generated values are written write-only (secret_string_wo): the database master password and
# the jwt, session and pii-encryption secrets are ephemeral (AWS GetRandomPassword, opened anew on
# every run) and never enter Terraform state or plan files. A secret is written when it is created,
# when its version in var.versions is bumped (rotation), and when what it points at changes
# (terraform_data.bound_to below: a replaced database cluster, a moved Redis endpoint).
locals {
  generated    = ["database", "redis", "jwt", "pii-encryption", "session"]
  placeholders = ["smtp", "resend", "external-apis"]

  # Ephemeral (it holds ephemeral values): usable only in write-only arguments.
  generated_values = {
    database = jsonencode({
      engine   = "postgres"
      host     = var.database.host
      port     = var.database.port
      dbname   = var.database.dbname
      username = var.database.username
      password = var.database_password
    })
    redis = jsonencode({
      host       = var.redis.host
      port       = var.redis.port
      auth_token = var.redis.auth_token
      tls        = true
    })
    jwt = jsonencode({ secret = ephemeral.aws_secretsmanager_random_password.jwt.random_password })
    # AES-256 key for PII field encryption: 32 bytes, base64. GetRandomPassword returns characters,
    # not bytes, so the key is the SHA-256 of 64 random characters (~380 bits in, 256 bits out).
    "pii-encryption" = jsonencode({ key = base64sha256(ephemeral.aws_secretsmanager_random_password.pii.random_password) })
    session          = jsonencode({ secret = ephemeral.aws_secretsmanager_random_password.session.random_password })
  }

  # What each generated secret is bound to besides its credential (not secret, kept in state).
  bound_to = {
    database = var.database
    # The token itself is in state anyway (modules/cache); its hash only notices a replaced group.
    redis            = { host = var.redis.host, port = var.redis.port, replication_group_id = var.redis.replication_group_id, token_sha256 = sha256(var.redis.auth_token) }
    jwt              = null
    "pii-encryption" = null
    session          = null
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

ephemeral "aws_secretsmanager_random_password" "jwt" {
  password_length     = 64
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "session" {
  password_length     = 64
  exclude_punctuation = true
}

ephemeral "aws_secretsmanager_random_password" "pii" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:third-party keys are rotated at their issuer and app keys by a release; rotation needs a Lambda per secret type, and External Secrets re-reads every hour
  for_each                = toset(concat(local.generated, local.placeholders))
  name                    = "autolytiq/${var.environment}/${each.key}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
}

resource "terraform_data" "bound_to" {
  for_each = toset(local.generated)
  input    = local.bound_to[each.key]
}

# for_each over the names, not the values: the values are ephemeral and cannot drive for_each.
resource "aws_secretsmanager_secret_version" "generated" {
  for_each                 = toset(local.generated)
  secret_id                = aws_secretsmanager_secret.this[each.key].id
  secret_string_wo         = local.generated_values[each.key]
  secret_string_wo_version = lookup(var.versions, each.key, 1)

  lifecycle {
    replace_triggered_by = [terraform_data.bound_to[each.key]]
  }
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
