variable "name" {
  description = "Name prefix, e.g. autolytiq-prod."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet discovery tags."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block; subnets are /20 slices of it."
  type        = string
  default     = "10.0.0.0/16"
}

variable "nat_gateway_count" {
  description = "1 (shared, staging) or 3 (one per AZ, prod)."
  type        = number
  validation {
    condition     = contains([1, 3], var.nat_gateway_count)
    error_message = "nat_gateway_count must be 1 or 3."
  }
}

variable "kms_key_arn" {
  description = "Encrypts the VPC flow log group (the key policy allows CloudWatch Logs)."
  type        = string
}

variable "log_retention_days" {
  description = "How long VPC flow logs are kept."
  type        = number
}
