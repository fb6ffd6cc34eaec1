output "counter_url" {
  description = "Function URL; add api/visitors or badge/visitors."
  value       = aws_lambda_function_url.counter.function_url
}

output "table_arn" {
  description = "ARN of the table the function counts in."
  value       = local.table_arn
}
