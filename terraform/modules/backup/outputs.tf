output "backup_bucket" {
  value = aws_s3_bucket.backups.id
}

output "vault_name" {
  value = aws_backup_vault.main.name
}

output "dr_vault_arn" {
  value = one(aws_backup_vault.dr[*].arn)
}
