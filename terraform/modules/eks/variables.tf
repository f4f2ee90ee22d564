variable "cluster_name" {
  type = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (a version in EKS standard support)."
  type        = string
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "public_access_cidrs" {
  description = "Who may reach the public API endpoint (no default: never the whole internet by accident)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Envelope encryption of Kubernetes Secrets."
  type        = string
}

variable "log_retention_days" {
  type = number
}

variable "node_instance_types" {
  type = object({
    general  = list(string)
    database = list(string)
  })
}

variable "general_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
}

variable "database_size" {
  type = object({
    desired = number
    min     = number
    max     = number
  })
}

variable "addons_enabled" {
  description = "Install the vpc-cni (network policy on) and aws-ebs-csi-driver add-ons. Off only in the sandbox: moto 5.2.1 has no CreateAddon (404)."
  type        = bool
  default     = true
}
