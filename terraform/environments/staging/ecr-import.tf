# Migration: before ECR moved into Terraform, `autolytiq deploy` (ecr.repositories) created the
# repositories itself. In an environment that has them, set terraformVars
# ecr_adopt_existing_repositories: true in autolytiq.yaml and re-run phase 2: terraform adopts
# each repository and its lifecycle policy into state instead of failing on "already exists", and
# never deletes one (prevent_destroy). Import blocks are idempotent: once adopted, nothing more
# happens on later plans, so the flag can stay.
import {
  for_each = var.ecr_adopt_existing_repositories ? toset(module.platform.ecr_repository_names) : toset([])
  to       = module.platform.module.ecr.aws_ecr_repository.service[each.key]
  id       = each.key
}

import {
  for_each = var.ecr_adopt_existing_repositories ? toset(module.platform.ecr_repository_names) : toset([])
  to       = module.platform.module.ecr.aws_ecr_lifecycle_policy.service[each.key]
  id       = each.key
}
