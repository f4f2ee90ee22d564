variable "environment" {
  type = string
}

variable "services" {
  description = "Catalog service names (services/catalog.yaml), one log group each."
  type        = list(string)
}

variable "alert_email" {
  type = string
}

variable "log_retention_days" {
  description = "Per environment (autolytiq.yaml terraformVars log_retention_days; prod keeps a year)."
  type        = number
}

variable "kms_key_arn" {
  description = "Encrypts the log groups (the key policy allows CloudWatch Logs)."
  type        = string
}
