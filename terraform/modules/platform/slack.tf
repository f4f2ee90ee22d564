# Issue #16 item 11: the Slack webhook secret autolytiq.yaml names (slackWebhook.secretId,
# autolytiq/<env>/slack-webhook) was created by nothing, so monitoring.deploy failed in prod.
# Like smtp and resend (modules/secrets) it is created with a REPLACE_ME placeholder that
# terraform never overwrites; secrets.expected fills it in ({"url": "https://hooks.slack.com/..."}).
variable "slack_webhook_secret" {
  description = "Create autolytiq/<env>/slack-webhook (a placeholder filled by `autolytiq deploy`, secrets.expected)."
  type        = bool
  default     = false
}

resource "aws_secretsmanager_secret" "slack_webhook" {
  #checkov:skip=CKV2_AWS_57:a Slack webhook URL is rotated in Slack, not by a rotation Lambda; secrets.expected stores the new one
  count                   = var.slack_webhook_secret ? 1 : 0
  name                    = "autolytiq/${var.environment}/slack-webhook"
  description             = "Slack incoming webhook for alerts and run notifications: {\"url\": \"...\"}"
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "slack_webhook_placeholder" {
  count         = var.slack_webhook_secret ? 1 : 0
  secret_id     = aws_secretsmanager_secret.slack_webhook[0].id
  secret_string = jsonencode({ url = "REPLACE_ME" })

  # filled in by secrets.expected: never put the placeholder back
  lifecycle {
    ignore_changes = [secret_string]
  }
}

output "slack_webhook_secret_arn" {
  value = var.slack_webhook_secret ? aws_secretsmanager_secret.slack_webhook[0].arn : null
}
