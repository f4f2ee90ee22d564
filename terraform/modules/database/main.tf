# Plan 2.3 and 3.1: Aurora PostgreSQL 15, Serverless v2 (2-16 ACU by default), encrypted with the
# environment's KMS key. The master password comes in as an ephemeral value (module "platform"
# generates it) and is written write-only: it never enters Terraform state or plan files. The same
# value is written to the autolytiq/<env>/database secret in the same apply (module "secrets").
resource "aws_db_subnet_group" "this" {
  # The plan's database rollback names this group: <name>-db.
  name       = "${var.name}-db"
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-db"
  description = "Aurora PostgreSQL from the EKS cluster only"
  vpc_id      = var.vpc_id
}

# for_each over the map's keys, which are static; the group ids are known only after apply.
resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each                     = var.allowed_security_groups
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = each.value
  description                  = "PostgreSQL from the EKS cluster"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV_AWS_162:the services log in with the password from Secrets Manager (External Secrets); IAM auth would need token refresh in every service
  #checkov:skip=CKV2_AWS_8:AWS Backup protects this cluster by ARN (module backup, aws_backup_selection), which checkov cannot follow across modules
  #checkov:skip=CKV2_AWS_27:log_statement=all would copy customers' personal data from queries into CloudWatch; errors go out through the postgresql log export
  cluster_identifier              = var.name
  engine                          = "aurora-postgresql"
  engine_mode                     = "provisioned"
  engine_version                  = var.engine_version
  database_name                   = var.database_name
  master_username                 = var.master_username
  master_password_wo              = var.master_password
  master_password_wo_version      = var.master_password_version
  port                            = var.port
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.this.id]
  storage_encrypted               = true
  kms_key_id                      = var.kms_key_arn
  backup_retention_period         = var.backup_retention_days
  preferred_backup_window         = "03:00-04:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = !var.deletion_protection
  final_snapshot_identifier       = "${var.name}-final"
  enabled_cloudwatch_logs_exports = ["postgresql"]

  serverlessv2_scaling_configuration {
    min_capacity = var.min_capacity
    max_capacity = var.max_capacity
  }

  # scaling_configuration is Serverless v1 (engine_mode serverless), never set for a provisioned
  # cluster; moto 5.2.1 returns a ScalingConfigurationInfo for every cluster, which would plan a
  # change after each apply.
  lifecycle {
    ignore_changes = [scaling_configuration]
  }
}

# A writer and (prod) a reader in another AZ; "db.serverless" makes them Serverless v2.
resource "aws_rds_cluster_instance" "this" {
  #checkov:skip=CKV_AWS_118:Performance Insights (on, KMS-encrypted) covers database load; OS-level Enhanced Monitoring would add a role and per-second cost for little on Serverless v2
  #checkov:skip=CKV_AWS_226:engine_version is pinned here; minor upgrades go through a reviewed terraform plan instead of drifting from state in a maintenance window
  count                           = var.instance_count
  identifier                      = "${var.name}-${count.index}"
  cluster_identifier              = aws_rds_cluster.this.id
  instance_class                  = var.instance_class
  engine                          = aws_rds_cluster.this.engine
  engine_version                  = aws_rds_cluster.this.engine_version
  db_subnet_group_name            = aws_db_subnet_group.this.name
  performance_insights_enabled    = var.performance_insights
  performance_insights_kms_key_id = var.performance_insights ? var.kms_key_arn : null
}
