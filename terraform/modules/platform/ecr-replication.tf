# Issue #16 item 5: images are built and pushed once, to the source registry (staging's account),
# and ECR replicates them into the other account's registry, so each cluster pulls from its own
# account and CD never needs credentials for two accounts in one job.
variable "ecr_replicate_to_account" {
  description = "Source side: the account whose registry receives a copy of every autolytiq/* image pushed here (empty: none)."
  type        = string
  default     = ""
}

variable "ecr_replication_from_account" {
  description = "Destination side: the account allowed to replicate autolytiq/* images into this registry (empty: none)."
  type        = string
  default     = ""
}

resource "aws_ecr_replication_configuration" "this" {
  count = var.ecr_replicate_to_account != "" ? 1 : 0
  replication_configuration {
    rule {
      destination {
        region      = var.aws_region
        registry_id = var.ecr_replicate_to_account
      }
      repository_filter {
        filter      = "autolytiq/"
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}

data "aws_iam_policy_document" "ecr_replication" {
  count = var.ecr_replication_from_account != "" ? 1 : 0
  statement {
    sid = "ReplicateFromSourceAccount"
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${var.ecr_replication_from_account}:root"]
    }
    actions   = ["ecr:CreateRepository", "ecr:ReplicateImage"]
    resources = ["arn:aws:ecr:${var.aws_region}:${data.aws_caller_identity.current.account_id}:repository/autolytiq/*"]
  }
}

resource "aws_ecr_registry_policy" "replication" {
  count  = var.ecr_replication_from_account != "" ? 1 : 0
  policy = data.aws_iam_policy_document.ecr_replication[0].json
}
