# Plan 2.3: CloudWatch log groups for the services and the SNS topic alerts go to, with the
# on-call email subscribed (AWS sends a confirmation mail that someone must click).
resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_338:retention is per environment (log_retention_days): staging keeps 90 days for cost, prod 365 (asserted by test/unit/security-scanners.test.ts)
  for_each          = toset(var.services)
  name              = "/autolytiq/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alerts" {
  name              = "autolytiq-${var.environment}-alerts"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
