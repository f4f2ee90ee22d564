output "replication_group_id" {
  value = local.group.id
}

output "primary_endpoint" {
  value = local.group.primary_endpoint
}

output "reader_endpoint" {
  value = local.group.reader_endpoint
}

output "port" {
  value = local.group.port
}

output "auth_token" {
  value     = var.manage_replication_group ? aws_elasticache_replication_group.this[0].auth_token : var.existing_auth_token
  sensitive = true
}
