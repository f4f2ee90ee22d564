variable "environment" {
  type = string
}

variable "services" {
  description = "Catalog service names (services/catalog.yaml), one log group each."
  type        = list(string)
}

variable "alert_email" {
  type = string
}

variable "log_retention_days" {
  type    = number
  default = 30
}
