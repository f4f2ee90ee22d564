variable "aws_region" {
  type = string
}

variable "environment" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "services" {
  type = list(string)
}

variable "alert_email" {
  type = string
}

variable "vpc_cidr" {
  type = string
}

variable "nat_gateway_count" {
  type = number
}

variable "eks_version" {
  type = string
}

variable "eks_node_instance_types" {
  type = object({
    general  = list(string)
    database = list(string)
  })
}

variable "eks_node_desired_size" {
  type = number
}

variable "eks_node_min_size" {
  type = number
}

variable "eks_node_max_size" {
  type = number
}

variable "eks_database_node_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
}

variable "db_engine_version" {
  type = string
}

variable "db_instance_class" {
  type = string
}

variable "db_instance_count" {
  type = number
}

variable "db_min_capacity" {
  type = number
}

variable "db_max_capacity" {
  type = number
}

variable "redis_node_type" {
  type = string
}

variable "backup_retention_days" {
  type = number
}

variable "multi_az" {
  description = "Redis automatic failover across AZs."
  type        = bool
}

variable "cross_region_backup" {
  description = "Copy backups to the DR region."
  type        = bool
}

variable "protect_data" {
  description = "Deletion protection for the database, long recovery windows for secrets."
  type        = bool
}

variable "secret_versions" {
  description = "Generated secret name (database, redis, jwt, pii-encryption, session) to write version, 1 when absent. Bump one to rotate it; database also rotates the cluster's master password in the same apply."
  type        = map(number)
  default     = {}
}

variable "db_port" {
  description = "Aurora port (the sandbox passes its local PostgreSQL's port)."
  type        = number
  default     = 5432
}

variable "redis_port" {
  description = "Redis port (the sandbox passes its local Redis's port)."
  type        = number
  default     = 6379
}

variable "eks_public_access_cidrs" {
  description = "Who may reach the EKS API's public endpoint (nodes and pods use the private one). No default: each environment names its operators' egress ranges."
  type        = list(string)
  validation {
    condition     = length(var.eks_public_access_cidrs) > 0 && alltrue([for c in var.eks_public_access_cidrs : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "eks_public_access_cidrs must list CIDR blocks (e.g. 203.0.113.0/24), never a /0 such as 0.0.0.0/0."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention (EKS control plane, VPC flow logs, services) and S3 access logs. Prod keeps at least a year."
  type        = number
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 90, 365, 731)."
  }
}

# Switches for the sandbox, where moto 5.2.1 lacks an API a resource needs: each keeps that one
# resource out (README "Terraform in the sandbox"). On everywhere else.
variable "backup_selection" {
  description = "Assign the Aurora cluster to the backup plan (aws_backup_selection). Off in the sandbox: moto has no CreateBackupSelection."
  type        = bool
  default     = true
}

variable "eks_cluster_ingress" {
  description = "Database and Redis ingress rules from the EKS cluster security group. Off in the sandbox: moto's EKS clusters have no clusterSecurityGroupId."
  type        = bool
  default     = true
}

variable "redis_replication_group_managed" {
  description = "Create the ElastiCache replication group. Off in the sandbox (moto has no member clusters for DescribeCacheClusters): the group is read, created by `autolytiq sandbox up`."
  type        = bool
  default     = true
}

variable "redis_existing_endpoint" {
  description = "With redis_replication_group_managed off: the existing group's primary endpoint."
  type        = string
  default     = null
}

variable "redis_auth_token" {
  description = "With redis_replication_group_managed off: the existing group's AUTH token."
  type        = string
  default     = null
  sensitive   = true
}

variable "eks_addons" {
  description = "The EKS add-ons (vpc-cni with network policy, aws-ebs-csi-driver). Off in the sandbox: moto has no CreateAddon."
  type        = bool
  default     = true
}

variable "rds_performance_insights" {
  description = "Performance Insights (KMS-encrypted) on the Aurora instances. Off in the sandbox: moto keeps neither PerformanceInsightsEnabled nor its KMS key, so every plan would re-enable it."
  type        = bool
  default     = true
}
