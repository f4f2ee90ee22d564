variable "environment" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once)."
  type        = number
  default     = 30
}

variable "database" {
  type = object({
    host     = string
    port     = number
    dbname   = string
    username = string
    password = string
  })
  sensitive = true
}

variable "redis" {
  type = object({
    host       = string
    port       = number
    auth_token = string
  })
  sensitive = true
}
