variable "kms_key_arn" {
  description = "Encrypts the images at rest."
  type        = string
}

variable "keep_images" {
  description = "Plan 4.1: keep the last 30 images per repository."
  type        = number
  default     = 30
}
