output "cluster_id" {
  value = aws_rds_cluster.this.id
}

output "cluster_arn" {
  value = aws_rds_cluster.this.arn
}

output "endpoint" {
  value = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  value = aws_rds_cluster.this.reader_endpoint
}

output "port" {
  value = aws_rds_cluster.this.port
}

output "database_name" {
  value = aws_rds_cluster.this.database_name
}

output "master_username" {
  value = aws_rds_cluster.this.master_username
}

# Changes only when the cluster is replaced: the database secret is rewritten then (module "secrets").
output "cluster_resource_id" {
  value = aws_rds_cluster.this.cluster_resource_id
}

output "subnet_group_name" {
  value = aws_db_subnet_group.this.name
}

output "security_group_id" {
  value = aws_security_group.this.id
}
