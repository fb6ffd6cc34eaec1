variable "allowed_origin" {
  description = "Origin of the site whose scripts read counts with fetch(), such as https://resume.example.com (\"*\" for any). Badges in <img> need no CORS."
  type        = string
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
  description = "Reserved concurrency: the most instances that run at once, which caps what a flood of requests can cost. Excess requests get 429."
  type        = number
  default     = 10
}

variable "zip_file" {
  description = "Deployment package built by the README's go build + zip lines."
  type        = string
  default     = "../function.zip"
}
