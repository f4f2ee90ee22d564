# Variables the CLI writes into terraform.tfvars.json (terraform.tfvars step) from autolytiq.yaml
# and services/catalog.yaml; the defaults below are this environment's sizing when autolytiq.yaml
# does not override it (terraformVars).
variable "aws_region" {
  type = string
}

variable "environment" {
  type = string
}

variable "domain_name" {
  type = string
}

variable "api_domain" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "dr_region" {
  type = string
}

variable "alert_email" {
  type = string
}

variable "services" {
  description = "Catalog service names."
  type        = list(string)
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "nat_gateway_count" {
  type    = number
  default = 3
}

variable "eks_version" {
  description = "A Kubernetes version in EKS standard support; the sandbox rehearses the same minor (local control plane v1.34)."
  type        = string
  default     = "1.34"
}

variable "eks_node_instance_types" {
  type = object({
    general  = list(string)
    database = list(string)
  })
  default = {
    general  = ["t3.large", "t3.xlarge"]
    database = ["r5.large", "r5.xlarge"]
  }
}

variable "eks_node_desired_size" {
  type    = number
  default = 5
}

variable "eks_node_min_size" {
  type    = number
  default = 3
}

variable "eks_node_max_size" {
  type    = number
  default = 15
}

variable "eks_database_node_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = {
    desired = 2
    min     = 2
    max     = 4
  }
}

variable "db_engine_version" {
  type    = string
  default = "15.10"
}

variable "db_instance_class" {
  description = "db.serverless (Serverless v2, the plan's choice) or a provisioned class."
  type        = string
  default     = "db.serverless"
}

variable "db_instance_count" {
  type    = number
  default = 2
}

variable "db_min_capacity" {
  type    = number
  default = 2
}

variable "db_max_capacity" {
  type    = number
  default = 16
}

variable "redis_node_type" {
  type    = string
  default = "cache.r5.large"
}

variable "backup_retention_days" {
  type    = number
  default = 35
}

variable "secret_versions" {
  description = "Bump a generated secret's version to rotate it (database also sets the cluster's master password): e.g. { database = 2 }."
  type        = map(number)
  default     = {}
}

variable "eks_public_access_cidrs" {
  description = "CIDR blocks that may reach the EKS API's public endpoint (autolytiq.yaml terraformVars). No default: never 0.0.0.0/0 by accident."
  type        = list(string)
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention in days (autolytiq.yaml terraformVars; prod keeps at least 365)."
  type        = number
}

variable "ecr_adopt_existing_repositories" {
  description = "Import the ECR repositories an older autolytiq created with the CLI (ecr.repositories) instead of creating them; true once per environment that has them, see ecr-import.tf."
  type        = bool
  default     = false
}
