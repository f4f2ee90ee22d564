# Everything plan phase 2 provisions for one environment, in the order of the plan's appendix A:
# network -> EKS -> Aurora and Redis -> secrets -> backups. Environments differ only in inputs.
module "kms" {
  source      = "../kms"
  environment = var.environment
}

module "network" {
  source             = "../network"
  name               = "autolytiq-${var.environment}"
  cluster_name       = var.cluster_name
  cidr               = var.vpc_cidr
  nat_gateway_count  = var.nat_gateway_count
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "eks" {
  source              = "../eks"
  cluster_name        = var.cluster_name
  kubernetes_version  = var.eks_version
  private_subnet_ids  = module.network.private_subnet_ids
  public_subnet_ids   = module.network.public_subnet_ids
  kms_key_arn         = module.kms.key_arn
  public_access_cidrs = var.eks_public_access_cidrs
  log_retention_days  = var.log_retention_days
  node_instance_types = var.eks_node_instance_types
  general_size = {
    desired = var.eks_node_desired_size
    min     = var.eks_node_min_size
    max     = var.eks_node_max_size
  }
  database_size = var.eks_database_node_size
}

module "database" {
  source                     = "../database"
  name                       = "autolytiq-${var.environment}"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = module.kms.key_arn
  engine_version             = var.db_engine_version
  instance_class             = var.db_instance_class
  instance_count             = var.db_instance_count
  min_capacity               = var.db_min_capacity
  max_capacity               = var.db_max_capacity
  backup_retention_days      = min(var.backup_retention_days, 35)
  deletion_protection        = var.protect_data
}

module "cache" {
  source                     = "../cache"
  name                       = "autolytiq-${var.environment}"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = module.kms.key_arn
  node_type                  = var.redis_node_type
  multi_az                   = var.multi_az
}

module "secrets" {
  source               = "../secrets"
  environment          = var.environment
  kms_key_arn          = module.kms.key_arn
  recovery_window_days = var.protect_data ? 30 : 7
  database = {
    host     = module.database.endpoint
    port     = module.database.port
    dbname   = module.database.database_name
    username = module.database.master_username
    password = module.database.master_password
  }
  redis = {
    host       = module.cache.primary_endpoint
    port       = module.cache.port
    auth_token = module.cache.auth_token
  }
}

module "observability" {
  source             = "../observability"
  environment        = var.environment
  services           = var.services
  alert_email        = var.alert_email
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "backup" {
  source = "../backup"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }
  environment               = var.environment
  kms_key_arn               = module.kms.key_arn
  retention_days            = var.backup_retention_days
  access_log_retention_days = var.log_retention_days
  cross_region_copy         = var.cross_region_backup
  resource_arns             = [module.database.cluster_arn]
}

# Plan 4.1's registries, one per catalog service (services/catalog.yaml).
module "ecr" {
  source      = "../ecr"
  kms_key_arn = module.kms.key_arn
}
