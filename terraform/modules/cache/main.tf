# Plan 2.3 and 3.2: ElastiCache Redis 7, three nodes, TLS in transit, AUTH token, encrypted at
# rest; automatic failover across AZs where multi_az is on (prod).
resource "aws_elasticache_subnet_group" "this" {
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis from the EKS cluster only"
  vpc_id      = var.vpc_id
}

# for_each over the map's keys, which are static; the group ids are known only after apply.
resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each                     = var.allowed_security_groups
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = each.value
  description                  = "Redis from the EKS cluster"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

# The AUTH token is the one credential that lives in Terraform state (the state bucket is
# KMS-encrypted and versioned, readable only by the deploy role). Why not write-only like the
# database password: hashicorp/aws 5.100 has no auth_token_wo, so an ephemeral value cannot reach
# the replication group at all. The alternatives were worse for this platform: an IAM-authenticated
# ElastiCache user makes every service sign short-lived IAM tokens (a code change in all eight
# services and a break of the redis secret's {auth_token} contract); a token made outside Terraform
# (ModifyReplicationGroup from a script) leaves the group's credential unmanaged and unreviewable.
# AWS generates the token (GetRandomPassword: no hashicorp/random needed). The data source is read on
# every plan, so the group ignores later values: the token set at creation stays, and
# module.cache.auth_token (read back from the group) is what the redis secret holds. To rotate:
# `terraform apply -replace='module.platform.module.cache.aws_elasticache_replication_group.this[0]'` in
# a window, or ModifyReplicationGroup with AuthTokenUpdateStrategy=ROTATE and then the secret.
data "aws_secretsmanager_random_password" "auth" {
  count = var.manage_replication_group ? 1 : 0
  # ElastiCache AUTH tokens: 16-128 printable characters; letters and digits avoid URL escaping.
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_elasticache_replication_group" "this" {
  count                      = var.manage_replication_group ? 1 : 0
  replication_group_id       = var.name
  description                = "autolytiq ${var.name}"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = var.node_count
  port                       = var.port
  parameter_group_name       = "default.redis7"
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = data.aws_secretsmanager_random_password.auth[0].random_password
  automatic_failover_enabled = var.multi_az
  multi_az_enabled           = var.multi_az
  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "04:00-05:00"

  lifecycle {
    ignore_changes = [auth_token]
  }
}

moved {
  from = aws_elasticache_replication_group.this
  to   = aws_elasticache_replication_group.this[0]
}

# The sandbox only (manage_replication_group = false): moto 5.2.1 creates the group but answers
# DescribeCacheClusters for its member clusters with CacheClusterNotFound, so the resource's read
# fails after every create, and the aws_elasticache_replication_group data source crashes the
# provider on moto's answer (no ReaderEndpoint). `autolytiq sandbox up` creates the group on its
# real Redis's port and passes its endpoint and token in.
locals {
  group = var.manage_replication_group ? {
    id               = aws_elasticache_replication_group.this[0].id
    primary_endpoint = aws_elasticache_replication_group.this[0].primary_endpoint_address
    reader_endpoint  = aws_elasticache_replication_group.this[0].reader_endpoint_address
    port             = aws_elasticache_replication_group.this[0].port
    } : {
    id               = var.name
    primary_endpoint = var.existing_primary_endpoint
    reader_endpoint  = var.existing_primary_endpoint
    port             = var.port
  }
}
