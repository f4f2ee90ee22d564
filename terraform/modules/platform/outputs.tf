output "vpc_id" {
  value = module.network.vpc_id
}

output "private_subnet_ids" {
  value = module.network.private_subnet_ids
}

output "eks_cluster_name" {
  value = module.eks.cluster_name
}

output "eks_cluster_endpoint" {
  value = module.eks.cluster_endpoint
}

output "eks_cluster_security_group_id" {
  value = module.eks.cluster_security_group_id
}

output "rds_cluster_id" {
  value = module.database.cluster_id
}

output "rds_cluster_endpoint" {
  value = module.database.endpoint
}

output "rds_reader_endpoint" {
  value = module.database.reader_endpoint
}

output "db_subnet_group_name" {
  value = module.database.subnet_group_name
}

output "db_security_group_id" {
  value = module.database.security_group_id
}

output "redis_replication_group_id" {
  value = module.cache.replication_group_id
}

output "redis_endpoint" {
  value = module.cache.primary_endpoint
}

output "alb_controller_role_arn" {
  value = module.alb_controller_role.role_arn
}

output "external_secrets_role_arn" {
  value = module.external_secrets_role.role_arn
}

output "db_secret_arn" {
  value = module.secrets.db_secret_arn
}

output "redis_secret_arn" {
  value = module.secrets.redis_secret_arn
}

output "secret_arns" {
  value = module.secrets.secret_arns
}

output "kms_key_arn" {
  value = module.kms.key_arn
}

output "backup_bucket" {
  value = module.backup.backup_bucket
}

output "backup_vault_name" {
  value = module.backup.vault_name
}

output "alert_topic_arn" {
  value = module.observability.alert_topic_arn
}

output "ecr_repository_names" {
  value = module.ecr.repository_names
}

output "ecr_repository_urls" {
  value = module.ecr.repository_urls
}
