# Issue #16 item 5: CD assumes one role per environment through GitHub's OIDC provider instead of
# holding long-lived access keys. The role trusts only tokens GitHub issues for this repository
# and for the given subjects (`repo:<owner/name>:environment:prod` for a job in the prod
# environment, `repo:<owner/name>:ref:refs/tags/v*` for the tag-triggered staging jobs).
variable "github_repository" {
  description = "owner/name of the repository whose CD workflow deploys this environment; empty: no GitHub OIDC role."
  type        = string
  default     = ""
}

variable "github_oidc_subjects" {
  description = "Subject claims (after `repo:<owner/name>:`) allowed to assume the CD role, e.g. environment:prod or ref:refs/tags/v*."
  type        = list(string)
  default     = []
}

variable "create_github_oidc_provider" {
  description = "The provider is one per account: false when another stack in the account already made it."
  type        = bool
  default     = true
}

variable "cd_role_policy_arns" {
  description = "Policies of the CD role. It runs terraform apply for the whole platform, hence administrator by default; narrow it once the platform's resources are fixed."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/AdministratorAccess"]
}

locals {
  github_oidc     = var.github_repository != ""
  github_oidc_url = "token.actions.githubusercontent.com"
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = local.github_oidc && var.create_github_oidc_provider ? 1 : 0
  url            = "https://${local.github_oidc_url}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS trusts GitHub's OIDC certificate chain itself; the thumbprint is kept for older validators.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = local.github_oidc && !var.create_github_oidc_provider ? 1 : 0
  url   = "https://${local.github_oidc_url}"
}

data "aws_iam_policy_document" "cd_assume" {
  count = local.github_oidc ? 1 : 0
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_url}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "${local.github_oidc_url}:sub"
      values   = [for s in var.github_oidc_subjects : "repo:${var.github_repository}:${s}"]
    }
  }
}

resource "aws_iam_role" "cd" {
  count                = local.github_oidc ? 1 : 0
  name                 = "autolytiq-cd-${var.environment}"
  description          = "CD of ${var.github_repository} for ${var.environment} (GitHub OIDC, no access keys)"
  assume_role_policy   = data.aws_iam_policy_document.cd_assume[0].json
  max_session_duration = 3600 * 3
}

resource "aws_iam_role_policy_attachment" "cd" {
  for_each   = local.github_oidc ? toset(var.cd_role_policy_arns) : toset([])
  role       = aws_iam_role.cd[0].name
  policy_arn = each.value
}

output "cd_role_arn" {
  description = "role-to-assume for this environment's CD jobs (.github/workflows/cd.yml)."
  value       = local.github_oidc ? aws_iam_role.cd[0].arn : null
}
