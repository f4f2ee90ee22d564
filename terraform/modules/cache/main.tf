# Plan 2.3 and 3.2: ElastiCache Redis 7, three nodes, TLS in transit, AUTH token, encrypted at
# rest; automatic failover across AZs where multi_az is on (prod).
resource "aws_elasticache_subnet_group" "this" {
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis: 6379 from the EKS cluster only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each                     = toset(var.allowed_security_group_ids)
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = each.value
  description                  = "Redis from the EKS cluster"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "random_password" "auth" {
  # ElastiCache AUTH tokens: 16-128 printable characters; letters and digits avoid URL escaping.
  length  = 64
  special = false
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "autolytiq ${var.name}"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = var.node_count
  port                       = 6379
  parameter_group_name       = "default.redis7"
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth.result
  automatic_failover_enabled = var.multi_az
  multi_az_enabled           = var.multi_az
  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "04:00-05:00"
}
