# Plan 4.1: one ECR repository per service of services/catalog.yaml, read here so the catalog
# stays the single list (adding a service there adds its repository on the next plan). Scan on
# push, immutable tags (a pushed release can never be replaced under a running deployment), the
# environment's KMS key, and the plan's keep-30 lifecycle. `autolytiq deploy` (ecr.repositories)
# only checks that they exist.
locals {
  catalog      = yamldecode(file("${path.module}/../../../services/catalog.yaml"))
  repositories = toset([for s in local.catalog.services : s.ecrRepository])
}

resource "aws_ecr_repository" "service" {
  for_each             = local.repositories
  name                 = each.key
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  lifecycle {
    # Images live here: a plan that would delete a repository is refused, never applied.
    prevent_destroy = true
    # ECR cannot change a repository's encryption in place: repositories adopted from the CLI era
    # (created with AES256, see the root's import blocks) keep it instead of being replaced.
    ignore_changes = [encryption_configuration]
  }
}

# Same document as src/steps/aws/ecr.ts lifecyclePolicy(): the CLI compares it when checking.
resource "aws_ecr_lifecycle_policy" "service" {
  for_each   = aws_ecr_repository.service
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep last ${var.keep_images} images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.keep_images }
      action       = { type = "expire" }
    }]
  })
}
