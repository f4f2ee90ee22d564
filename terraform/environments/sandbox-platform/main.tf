# The sandbox's Terraform root (autolytiq.yaml terraformDir): the same platform module as staging
# and prod, with sandbox sizes, applied with the real hashicorp/aws provider against moto. What
# Terraform cannot make comes from `sandbox up`: the control plane, the PostgreSQL that serves the
# Aurora cluster on db_port (its RDS data plane gives the master user the password Terraform wrote
# to autolytiq/<env>/database), the Redis behind the replication group on redis_port, DNS, and —
# a moto gap — the ElastiCache replication group itself (src/sandbox/seed.ts). aws_endpoint,
# db_port and redis_port reach terraform.tfvars.json through the sandbox's runtime.json
# (terraformVars). test/integration/terraform-sandbox-platform.test.ts applies this root through
# the CLI's terraform steps; test/e2e/sandbox.test.ts applies it as phase 2 of the go-live.
module "platform" {
  source = "../../modules/platform"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  aws_region              = var.aws_region
  environment             = var.environment
  cluster_name            = var.cluster_name
  services                = var.services
  alert_email             = var.alert_email
  vpc_cidr                = var.vpc_cidr
  nat_gateway_count       = var.nat_gateway_count
  eks_version             = var.eks_version
  eks_node_instance_types = var.eks_node_instance_types
  eks_node_desired_size   = var.eks_node_desired_size
  eks_node_min_size       = var.eks_node_min_size
  eks_node_max_size       = var.eks_node_max_size
  eks_database_node_size  = var.eks_database_node_size
  db_engine_version       = var.db_engine_version
  db_instance_class       = var.db_instance_class
  db_instance_count       = var.db_instance_count
  db_min_capacity         = var.db_min_capacity
  db_max_capacity         = var.db_max_capacity
  redis_node_type         = var.redis_node_type
  backup_retention_days   = var.backup_retention_days
  secret_versions         = var.secret_versions

  # The sandbox's real servers: the Aurora cluster and the Redis group listen where they do.
  db_port    = var.db_port
  redis_port = var.redis_port

  eks_public_access_cidrs      = var.eks_public_access_cidrs
  log_retention_days           = var.log_retention_days
  github_repository            = var.github_repository
  ecr_replicate_to_account     = var.ecr_replicate_to_account
  ecr_replication_from_account = var.ecr_replication_from_account

  multi_az            = false
  cross_region_backup = false
  protect_data        = false

  # moto 5.2.1 gaps, one switch per resource (README "Terraform in the sandbox"). EKS access
  # entries are not passed either (moto has no CreateAccessEntry): the sandbox API server's
  # authenticator reads the same eks_access_entries from autolytiq.yaml.
  backup_selection                = false
  eks_addons                      = false
  eks_cluster_ingress             = false
  redis_replication_group_managed = false
  rds_performance_insights        = false
  redis_existing_endpoint         = nonsensitive(local.redis_group.primary_endpoint)
  redis_auth_token                = local.redis_group.auth_token
}

# The replication group `sandbox up` creates on the sandbox Redis (its password the AUTH token)
# is described in this sandbox-only secret: {primary_endpoint, auth_token}. The modules write the
# token into autolytiq/<env>/redis as they do with a group of their own.
data "aws_secretsmanager_secret_version" "redis_group" {
  secret_id = "sandbox/elasticache/autolytiq-${var.environment}"
}

locals {
  redis_group = jsondecode(data.aws_secretsmanager_secret_version.redis_group.secret_string)
}
