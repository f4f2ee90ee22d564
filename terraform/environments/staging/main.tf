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

  # CD (issue #16 item 5): the tag-triggered jobs assume autolytiq-cd-staging; images are pushed
  # here once and replicated to prod's registry.
  github_repository            = var.github_repository
  github_oidc_subjects         = ["ref:refs/tags/v*"]
  eks_access_entries           = var.eks_access_entries
  ecr_replicate_to_account     = var.ecr_replicate_to_account
  ecr_replication_from_account = var.ecr_replication_from_account
  eks_public_access_cidrs      = var.eks_public_access_cidrs
  log_retention_days           = var.log_retention_days

  # staging: single-AZ Redis, no DR copy, data may be deleted (cheaper, disposable).
  multi_az            = false
  cross_region_backup = false
  protect_data        = false
}
