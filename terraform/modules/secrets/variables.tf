variable "environment" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once)."
  type        = number
  default     = 30
}

variable "database" {
  description = "Where the database secret points; cluster_resource_id changes only when the cluster is replaced."
  type = object({
    host                = string
    port                = number
    dbname              = string
    username            = string
    cluster_resource_id = string
  })
}

variable "database_password" {
  description = "The master password the same apply writes to the cluster (ephemeral: never stored)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "redis" {
  type = object({
    host                 = string
    port                 = number
    replication_group_id = string
    auth_token           = string
  })
  sensitive = true
}

variable "versions" {
  description = "Secret name to write version (default 1). Bump one to rotate that secret; the database version also sets the cluster's master password."
  type        = map(number)
  default     = {}
}
