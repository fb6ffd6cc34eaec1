variable "allowed_origin" {
  description = "Origin of the site whose scripts read counts with fetch(), such as https://resume.example.com, in lower case and without a path or a trailing slash (\"*\" for any, empty for none). Badges in <img> need no CORS. The function answers CORS itself; the Function URL has no cors block."
  type        = string

  validation {
    condition     = can(regex("^(|\\*|https?://[a-z0-9.-]+(:[0-9]+)?)$", var.allowed_origin))
    error_message = "allowed_origin must be empty, \"*\" or an origin such as https://resume.example.com (lower case, no path, no trailing slash)."
  }
}

variable "allowed_keys" {
  description = "Comma-separated keys that may be counted, such as visitors,readme; any other key answers 404 and is never written. Empty allows any valid key, which lets anyone fill the table with made-up keys."
  type        = string
  default     = "visitors"
}

variable "table_name" {
  description = "DynamoDB table with the string partition key \"id\"."
  type        = string
  default     = "cloud-resume-stats"
}

variable "create_table" {
  description = "false to use an existing table named table_name (an existing cloud-resume-stats table, say) instead of creating one."
  type        = bool
  default     = true
}

variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
  default     = "counter"
}

variable "max_concurrency" {
  description = "Reserved concurrency, opt-in: the most instances that run at once, which caps what a flood of requests can cost (excess requests get 429). 0 reserves nothing, and the account's concurrency quota is the cap. Lambda refuses a reservation that leaves fewer than 100 unreserved executions: set it only where the quota is at least max_concurrency + 100 (new accounts often have 10)."
  type        = number
  default     = 0

  validation {
    condition     = var.max_concurrency >= 0 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number, 0 for no reservation."
  }
}

variable "zip_file" {
  description = "Deployment package built as docs/deploy-aws.md shows; null means function.zip beside this module's directory (examples/lambda/function.zip), wherever terraform runs."
  type        = string
  default     = null
}
