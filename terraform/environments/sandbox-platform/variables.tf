# Variables the CLI writes into terraform.tfvars.json (terraform.tfvars step) from autolytiq.yaml
# and services/catalog.yaml; the defaults below are this environment's sizing when autolytiq.yaml
# does not override it (terraformVars); sandbox sizes, the smallest each resource takes.
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
    general  = ["t3.medium"]
    database = ["r5.large"]
  }
}

variable "eks_node_desired_size" {
  type    = number
  default = 1
}

variable "eks_node_min_size" {
  type    = number
  default = 1
}

variable "eks_node_max_size" {
  type    = number
  default = 2
}

variable "eks_database_node_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = {
    desired = 1
    min     = 1
    max     = 2
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
  default = 0.5
}

variable "db_max_capacity" {
  type    = number
  default = 1
}

variable "redis_node_type" {
  type    = string
  default = "cache.t3.micro"
}

variable "backup_retention_days" {
  type    = number
  default = 1
}

variable "secret_versions" {
  description = "Bump a generated secret's version to rotate it (database also sets the cluster's master password): e.g. { database = 2 }."
  type        = map(number)
  default     = {}
}

variable "aws_endpoint" {
  description = "moto's endpoint: the sandbox's runtime.json, written into terraform.tfvars.json by the CLI."
  type        = string
}

variable "db_port" {
  description = "Port of the sandbox PostgreSQL that serves the Aurora cluster."
  type        = number
}

variable "redis_port" {
  description = "Port of the sandbox Redis behind the replication group."
  type        = number
}

variable "eks_access_entries" {
  description = "Declared for autolytiq.yaml's terraformVars; not passed to the module (moto has no EKS access-entry API): the sandbox API server's authenticator reads the same value."
  type = map(object({
    principal_arn = string
    policy        = string
  }))
  default = {}
}

variable "eks_public_access_cidrs" {
  description = "Loopback only: the sandbox's \"public endpoint\" is this machine."
  type        = list(string)
  default     = ["127.0.0.1/32"]
}

variable "log_retention_days" {
  description = "CloudWatch Logs and S3 access logs: a week in the sandbox."
  type        = number
  default     = 7
}

variable "github_repository" {
  description = "The GitHub repository whose CD may assume this environment's role (GitHub OIDC); none in the sandbox."
  type        = string
  default     = ""
}

variable "ecr_replicate_to_account" {
  description = "ECR replication target account (staging -> prod); none in the sandbox."
  type        = string
  default     = ""
}

variable "ecr_replication_from_account" {
  description = "The account that replicates release images into this one; none in the sandbox."
  type        = string
  default     = ""
}

variable "ecr_adopt_existing_repositories" {
  description = "Declared for the keys every environment's terraform.tfvars.json may carry; the sandbox's moto starts empty, there is nothing to adopt."
  type        = bool
  default     = false
}
