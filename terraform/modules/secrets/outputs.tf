output "secret_arns" {
  description = "Secret name suffix (database, redis, ...) to ARN."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "db_secret_arn" {
  value = aws_secretsmanager_secret.this["database"].arn
}

output "redis_secret_arn" {
  value = aws_secretsmanager_secret.this["redis"].arn
}
