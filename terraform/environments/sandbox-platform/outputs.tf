# Read by `autolytiq deploy` (terraform.outputs) and saved in the environment's state for the
# later phases; the names are a contract with src/steps/terraform/outputs.ts.
output "eks_cluster_name" {
  value = module.platform.eks_cluster_name
}

output "eks_cluster_endpoint" {
  value = module.platform.eks_cluster_endpoint
}

output "vpc_id" {
  value = module.platform.vpc_id
}

output "rds_cluster_id" {
  value = module.platform.rds_cluster_id
}

output "rds_cluster_endpoint" {
  value = module.platform.rds_cluster_endpoint
}

output "rds_reader_endpoint" {
  value = module.platform.rds_reader_endpoint
}

output "db_subnet_group_name" {
  value = module.platform.db_subnet_group_name
}

output "db_security_group_id" {
  value = module.platform.db_security_group_id
}

output "redis_replication_group_id" {
  value = module.platform.redis_replication_group_id
}

output "redis_endpoint" {
  value = module.platform.redis_endpoint
}

output "alb_controller_role_arn" {
  value = module.platform.alb_controller_role_arn
}

output "external_secrets_role_arn" {
  value = module.platform.external_secrets_role_arn
}

output "db_secret_arn" {
  value = module.platform.db_secret_arn
}

output "redis_secret_arn" {
  value = module.platform.redis_secret_arn
}

output "secret_arns" {
  value = module.platform.secret_arns
}

output "kms_key_arn" {
  value = module.platform.kms_key_arn
}

output "backup_bucket" {
  value = module.platform.backup_bucket
}

output "backup_vault_name" {
  value = module.platform.backup_vault_name
}

output "alert_topic_arn" {
  value = module.platform.alert_topic_arn
}

output "api_domain" {
  value = var.api_domain
}
