output "alert_topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "log_group_names" {
  value = [for g in aws_cloudwatch_log_group.service : g.name]
}
