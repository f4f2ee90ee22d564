# Plan 2.3: CloudWatch log groups for the services and the SNS topic alerts go to, with the
# on-call email subscribed (AWS sends a confirmation mail that someone must click).
resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(var.services)
  name              = "/autolytiq/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
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
