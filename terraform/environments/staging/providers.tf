locals {
  tags = {
    Project     = "autolytiq"
    Environment = var.environment
    Domain      = var.domain_name
    ManagedBy   = "terraform"
  }
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = local.tags
  }
}

# Disaster recovery region: backup copies (plan 2.2 dr_region).
provider "aws" {
  alias  = "dr"
  region = var.dr_region
  default_tags {
    tags = local.tags
  }
}
