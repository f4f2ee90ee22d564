# The sandbox's AWS is moto: every service the modules call goes to its one endpoint
# (aws_endpoint, from the sandbox's runtime.json through the CLI's terraform.tfvars.json), with
# moto's static credentials and nothing that would reach AWS (account lookup, metadata). No
# default_tags: moto's AWS Backup keeps no tags, so every plan would re-tag the vault and plan.
provider "aws" {
  region                      = var.aws_region
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
    backup         = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    ec2            = var.aws_endpoint
    ecr            = var.aws_endpoint
    eks            = var.aws_endpoint
    elasticache    = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    rds            = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sns            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

provider "aws" {
  alias                       = "dr"
  region                      = var.dr_region
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
    backup = var.aws_endpoint
    ecr    = var.aws_endpoint
    kms    = var.aws_endpoint
    sts    = var.aws_endpoint
  }
}
