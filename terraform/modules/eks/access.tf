# Issue #16 item 4: who may reach the cluster besides the identity that ran `terraform apply`
# (bootstrap_cluster_creator_admin_permissions, main.tf). Without these entries the CD role's
# first `helm history` and an on-call engineer's `autolytiq rollback` get 401 from the API server.
# The cluster uses authentication_mode API_AND_CONFIG_MAP (main.tf), so access entries apply and
# the aws-auth ConfigMap is no longer needed.
variable "access_entries" {
  description = "IAM principals (roles) that may use the cluster, by name, each with an EKS access policy (e.g. AmazonEKSClusterAdminPolicy) on the whole cluster. For an IAM Identity Center role use the role ARN without its path."
  type = map(object({
    principal_arn = string
    policy        = string
  }))
  default = {}
}

resource "aws_eks_access_entry" "this" {
  for_each      = var.access_entries
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  type          = "STANDARD"
}

resource "aws_eks_access_policy_association" "this" {
  for_each      = var.access_entries
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.this[each.key].principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/${each.value.policy}"

  access_scope {
    type = "cluster"
  }
}

output "access_entry_principals" {
  description = "Principals with an access entry (besides the cluster creator)."
  value       = { for k, e in aws_eks_access_entry.this : k => e.principal_arn }
}
