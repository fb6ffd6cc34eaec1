# Visitor counter (github.com/resumecounter/counter): a Go Lambda function
# behind a public Function URL, counting in DynamoDB.

resource "aws_dynamodb_table" "counter" {
  count        = var.create_table ? 1 : 0
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  # Visitor markers and daily salts carry their expiry, in epoch seconds, in
  # "ttl"; DynamoDB deletes them some time after it.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }
}

data "aws_dynamodb_table" "existing" {
  count = var.create_table ? 0 : 1
  name  = var.table_name
}

locals {
  table_arn = var.create_table ? aws_dynamodb_table.counter[0].arn : data.aws_dynamodb_table.existing[0].arn
  # A variable's default cannot name path.module: resolve the default here,
  # against this module's directory rather than where terraform runs.
  zip_file = coalesce(var.zip_file, "${path.module}/../function.zip")
}

data "aws_partition" "current" {}

resource "aws_iam_role" "counter" {
  name_prefix = "${var.function_name}-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.counter.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

# The function may count and write its visitor markers and daily salts
# (UpdateItem: the store writes nothing any other way) and read (GetItem,
# BatchGetItem for visits, history and sharded counts) in its table, ask
# whether TTL is on (DescribeTimeToLive, a check at start), and
# nothing else.
resource "aws_iam_role_policy" "table" {
  name = "counter-table"
  role = aws_iam_role.counter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTimeToLive"]
      Resource = local.table_arn
    }]
  })
}

resource "aws_lambda_function" "counter" {
  function_name                  = var.function_name
  role                           = aws_iam_role.counter.arn
  filename                       = local.zip_file
  source_code_hash               = filebase64sha256(local.zip_file)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = 128
  timeout                        = 5
  # 0 means no reservation (null leaves the provider's -1, unreserved); a
  # reservation of 0 would stop the function.
  reserved_concurrent_executions = var.max_concurrency > 0 ? var.max_concurrency : null

  environment {
    variables = {
      COUNTER_TABLE = var.table_name
      # The handlers answer CORS, preflight included (GET, HEAD, POST,
      # OPTIONS; ETag exposed); the Function URL has no cors block.
      COUNTER_ALLOWED_ORIGINS = var.allowed_origin
      COUNTER_KEYS            = var.allowed_keys
    }
  }

  depends_on = [aws_iam_role_policy_attachment.logs, aws_iam_role_policy.table]
}

# No cors block: the function answers CORS (COUNTER_ALLOWED_ORIGINS); both
# would double the headers, and browsers refuse doubled ones. With
# authorization_type NONE the provider adds the lambda:InvokeFunctionUrl
# statement (FunctionURLAllowPublicAccess) itself.
resource "aws_lambda_function_url" "counter" {
  function_name      = aws_lambda_function.counter.function_name
  authorization_type = "NONE"
}

# Since October 2025 a public Function URL also needs lambda:InvokeFunction,
# limited to calls through the URL (invoked_via_function_url).
resource "aws_lambda_permission" "url_invoke" {
  statement_id             = "CounterPublicFunctionUrlInvoke"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.counter.function_name
  principal                = "*"
  invoked_via_function_url = true
}
