# Variables the CLI writes into terraform.tfvars.json (terraform.tfvars step) from autolytiq.yaml
# and services/catalog.yaml; the defaults below are this environment's sizing when autolytiq.yaml
# does not override it (terraformVars).
variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "aws_account_id" {
  description = "moto's default account."
  type        = string
  default     = "123456789012"
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
  default = 1
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
  default = 2
}

variable "eks_node_min_size" {
  type    = number
  default = 2
}

variable "eks_node_max_size" {
  type    = number
  default = 5
}

variable "eks_database_node_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = {
    desired = 2
    min     = 1
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
  default = 1
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
  default = "cache.t3.medium"
}

variable "backup_retention_days" {
  type    = number
  default = 7
}

variable "eks_access_entries" {
  description = "IAM principals besides the cluster creator that may reach the cluster (EKS access entries); the sandbox's API server authenticator reads the same value from autolytiq.yaml."
  type = map(object({
    principal_arn = string
    policy        = string
  }))
  default = {}
}

# Declared so every environment takes the same terraform.tfvars.json keys; the sandbox has no
# GitHub OIDC role and no ECR replication (terraform_data only).
variable "github_repository" {
  type    = string
  default = ""
}

variable "ecr_replicate_to_account" {
  description = "CD pushes images once, to this account's registry; ECR replicates them into this account (staging -> prod)."
  type        = string
  default     = ""
}

variable "ecr_replication_from_account" {
  description = "The account whose registry replicates the release images into this one (prod <- staging)."
  type        = string
  default     = ""
}

# Declared because autolytiq.yaml may point any environment at any directory; the sandbox's
# terraform_data facade has no EKS endpoint, log groups or ECR repositories to apply them to.
variable "eks_public_access_cidrs" {
  type    = list(string)
  default = ["127.0.0.1/32"]
}

variable "log_retention_days" {
  type    = number
  default = 7
}

variable "ecr_adopt_existing_repositories" {
  type    = bool
  default = false
}
