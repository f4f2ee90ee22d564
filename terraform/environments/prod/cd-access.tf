# Issue #16 items 4 and 5: who may deploy to and reach this environment. Values come from
# autolytiq.yaml (terraformVars) through terraform.tfvars.json.
variable "github_repository" {
  description = "owner/name of the repository whose .github/workflows/cd.yml deploys this environment (its GitHub OIDC tokens may assume autolytiq-cd-<env>); empty: no CD role."
  type        = string
  default     = ""
}

variable "eks_access_entries" {
  description = "IAM roles (the on-call role, SSO admins) that may reach the cluster besides the CD role and the cluster creator: name => { principal_arn, policy }."
  type = map(object({
    principal_arn = string
    policy        = string
  }))
  default = {}
}

output "cd_role_arn" {
  description = "role-to-assume of this environment's CD jobs."
  value       = module.platform.cd_role_arn
}

variable "ecr_replicate_to_account" {
  description = "CD pushes images once, to this account's registry; ECR replicates them into this account (staging -> prod)."
  type        = string
  default     = ""
}

variable "ecr_replication_from_account" {
  description = "The account whose registry replicates the release images into this one (prod <- staging)."
  type        = string
  default     = ""
}
