variable "name" {
  description = "Replication group id, e.g. autolytiq-prod."
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

variable "port" {
  description = "Redis port (the sandbox passes its local Redis's port)."
  type        = number
  default     = 6379
}

variable "kms_key_arn" {
  type = string
}

variable "node_type" {
  type = string
}

variable "node_count" {
  description = "Primary plus replicas (plan: 3 nodes)."
  type        = number
  default     = 3
}

variable "engine_version" {
  type    = string
  default = "7.1"
}

variable "multi_az" {
  description = "Automatic failover and Multi-AZ (prod)."
  type        = bool
}

variable "snapshot_retention_days" {
  type    = number
  default = 7
}

variable "manage_replication_group" {
  description = "Create the replication group here. Off only in the sandbox (moto 5.2.1 has no member clusters for DescribeCacheClusters): the group named var.name exists already (`autolytiq sandbox up` creates it) and existing_* describe it."
  type        = bool
  default     = true
}

variable "existing_auth_token" {
  description = "With manage_replication_group off: the AUTH token of the existing group (what the redis secret holds)."
  type        = string
  default     = null
  sensitive   = true
}

variable "existing_primary_endpoint" {
  description = "With manage_replication_group off: the primary endpoint of the existing group."
  type        = string
  default     = null
}
