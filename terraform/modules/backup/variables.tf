variable "environment" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "retention_days" {
  description = "How long backups (and their DR copies) are kept."
  type        = number
}

variable "cross_region_copy" {
  description = "Copy every backup to the DR region (prod)."
  type        = bool
}

variable "resource_arns" {
  description = "What AWS Backup protects (the Aurora cluster)."
  type        = list(string)
}

variable "access_log_retention_days" {
  description = "How long the backup bucket's S3 access logs are kept."
  type        = number
}

variable "selection_enabled" {
  description = "Assign resource_arns to the backup plan. Off only in the sandbox: moto 5.2.1 does not implement CreateBackupSelection (the provider retries its 500 forever)."
  type        = bool
  default     = true
}
