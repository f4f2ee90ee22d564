# Issue #16 item 4: EKS access entries. The CD role of this environment (github-oidc.tf) always
# gets one; the rest (an on-call role, SSO admin roles) come from configuration
# (autolytiq.yaml terraformVars.eks_access_entries -> terraform.tfvars.json).
variable "eks_access_entries" {
  description = "IAM roles besides the CD role and the cluster creator that may reach the cluster, by name: { principal_arn, policy }."
  type = map(object({
    principal_arn = string
    policy        = string
  }))
  default = {}
}

locals {
  eks_access_entries = merge(
    var.eks_access_entries,
    local.github_oidc ? { cd = { principal_arn = aws_iam_role.cd[0].arn, policy = "AmazonEKSClusterAdminPolicy" } } : {},
  )
}
