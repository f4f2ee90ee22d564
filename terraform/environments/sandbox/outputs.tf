# Read by `autolytiq deploy` (terraform.outputs) and saved in the environment's state for the
# later phases; the names are a contract with src/steps/terraform/outputs.ts.
output "eks_cluster_name" {
  value = terraform_data.eks.output.name
}

output "eks_cluster_endpoint" {
  value = terraform_data.eks.output.endpoint
}

output "vpc_id" {
  value = terraform_data.network.output.vpc_id
}

output "rds_cluster_id" {
  value = terraform_data.database.output.id
}

output "rds_cluster_endpoint" {
  value = terraform_data.database.output.endpoint
}

output "rds_reader_endpoint" {
  value = terraform_data.database.output.reader_endpoint
}

output "db_subnet_group_name" {
  value = terraform_data.database.output.subnet_group_name
}

output "db_security_group_id" {
  value = terraform_data.database.output.security_group_id
}

output "redis_replication_group_id" {
  value = terraform_data.cache.output.id
}

output "redis_endpoint" {
  value = terraform_data.cache.output.endpoint
}

output "alb_controller_role_arn" {
  value = terraform_data.iam.output.alb_controller
}

output "external_secrets_role_arn" {
  value = terraform_data.iam.output.external_secrets
}

output "db_secret_arn" {
  value = terraform_data.secrets.output.database
}

output "redis_secret_arn" {
  value = terraform_data.secrets.output.redis
}

output "secret_arns" {
  value = terraform_data.secrets.output
}

output "kms_key_arn" {
  value = "arn:aws:kms:${var.aws_region}:${var.aws_account_id}:key/sandbox"
}

output "backup_bucket" {
  value = terraform_data.backup.output.bucket
}

output "backup_vault_name" {
  value = terraform_data.backup.output.vault
}

output "alert_topic_arn" {
  value = "arn:aws:sns:${var.aws_region}:${var.aws_account_id}:${local.name}-alerts"
}

output "api_domain" {
  value = var.api_domain
}
