# The sandbox environment: the same variables and outputs as staging and prod, but built only from
# terraform's built-in `terraform_data` resource, because provider downloads are impossible on the
# rehearsal machines. It exercises the real terraform binary, the real S3 backend (on moto) and
# the CLI's init/plan/apply/output steps. The sandbox's live AWS resources (EKS cluster, Aurora
# cluster, Redis group, secrets) are created by `autolytiq sandbox up` under the names output here.
terraform {
  required_version = ">= 1.5.0"

  # Partial configuration, completed by terraform.init from autolytiq.yaml (moto endpoints).
  backend "s3" {}
}

locals {
  name   = "autolytiq-${var.environment}"
  arn_id = "arn:aws:iam::${var.aws_account_id}"
}

resource "terraform_data" "network" {
  input = {
    vpc_id            = "vpc-${var.environment}"
    cidr              = var.vpc_cidr
    nat_gateway_count = var.nat_gateway_count
  }
}

resource "terraform_data" "eks" {
  input = {
    name          = var.cluster_name
    version       = var.eks_version
    endpoint      = "https://${var.cluster_name}.eks.${var.aws_region}.sandbox.local"
    instances     = var.eks_node_instance_types
    general_nodes = [var.eks_node_min_size, var.eks_node_desired_size, var.eks_node_max_size]
  }
}

resource "terraform_data" "database" {
  input = {
    id                = local.name
    endpoint          = "${local.name}.cluster.${var.aws_region}.rds.sandbox.local"
    reader_endpoint   = "${local.name}.cluster-ro.${var.aws_region}.rds.sandbox.local"
    instance_class    = var.db_instance_class
    engine_version    = var.db_engine_version
    subnet_group_name = "${local.name}-db"
    security_group_id = "sg-${var.environment}-db"
  }
}

resource "terraform_data" "cache" {
  input = {
    id        = local.name
    endpoint  = "master.${local.name}.cache.sandbox.local"
    node_type = var.redis_node_type
  }
}

resource "terraform_data" "secrets" {
  # Secret names work wherever an ARN is accepted (SecretId); sandbox up creates them in moto.
  input = { for s in ["database", "redis", "jwt", "pii-encryption", "session", "smtp", "resend", "external-apis"] : s => "autolytiq/${var.environment}/${s}" }
}

resource "terraform_data" "iam" {
  input = {
    alb_controller   = "${local.arn_id}:role/${var.cluster_name}-aws-load-balancer-controller"
    external_secrets = "${local.arn_id}:role/${var.cluster_name}-external-secrets"
  }
}

resource "terraform_data" "backup" {
  input = {
    bucket         = "${local.name}-backups-${var.aws_account_id}"
    vault          = local.name
    retention_days = var.backup_retention_days
    dr_region      = var.dr_region
    alert_email    = var.alert_email
    services       = var.services
  }
}
