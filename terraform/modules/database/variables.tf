variable "name" {
  description = "Cluster identifier, e.g. autolytiq-prod."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "allowed_security_groups" {
  description = "Security groups allowed to connect, by a name fixed in the configuration (the keys drive for_each and must be known at plan time; the ids may be known only after apply)."
  type        = map(string)
}

variable "master_password" {
  description = "Master password, ephemeral: written only to the write-only master_password_wo."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "master_password_version" {
  description = "Bump to rotate: the cluster takes the new master_password only when this changes."
  type        = number
}

variable "port" {
  description = "PostgreSQL port (the sandbox passes its local PostgreSQL's port)."
  type        = number
  default     = 5432
}

variable "kms_key_arn" {
  type = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL 15.x engine version."
  type        = string
  validation {
    condition     = startswith(var.engine_version, "15.")
    error_message = "The platform runs on PostgreSQL 15 (plan 3.1)."
  }
}

variable "instance_class" {
  description = "db.serverless for Serverless v2; a provisioned class (db.r5.large) pins the capacity instead."
  type        = string
  default     = "db.serverless"
}

variable "instance_count" {
  description = "Writer plus readers."
  type        = number
  default     = 2
}

variable "min_capacity" {
  description = "Serverless v2 minimum, in ACU."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Serverless v2 maximum, in ACU."
  type        = number
  default     = 16
}

variable "database_name" {
  type    = string
  default = "autolytiq"
}

variable "master_username" {
  type    = string
  default = "autolytiq_admin"
}

variable "backup_retention_days" {
  description = "Automated snapshot retention (1-35 days)."
  type        = number
}

variable "deletion_protection" {
  type = bool
}

# A switch, not lifecycle.ignore_changes: moto 5.2.1 keeps neither PerformanceInsightsEnabled nor
# PerformanceInsightsKMSKeyId, so each plan after an apply would turn both on again. Ignoring the
# two attributes in this shared module would also hide a real change in staging and prod (Performance
# Insights switched off, or its key swapped, outside Terraform); the switch is off only in the sandbox.
variable "performance_insights" {
  description = "Performance Insights on every instance, encrypted with kms_key_arn. Off only in the sandbox (moto keeps no Performance Insights settings)."
  type        = bool
  default     = true
}
