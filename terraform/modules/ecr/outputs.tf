output "repository_urls" {
  description = "Repository name => URL."
  value       = { for name, r in aws_ecr_repository.service : name => r.repository_url }
}

output "repository_names" {
  description = "The catalog's repositories (known at plan time: the roots' import blocks use it)."
  value       = sort(tolist(local.repositories))
}
