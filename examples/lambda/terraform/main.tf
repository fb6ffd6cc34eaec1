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
}

data "aws_dynamodb_table" "existing" {
  count = var.create_table ? 0 : 1
  name  = var.table_name
}

locals {
  table_arn = var.create_table ? aws_dynamodb_table.counter[0].arn : data.aws_dynamodb_table.existing[0].arn
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

# The function may count (UpdateItem) and read (GetItem) in its table, and
# nothing else.
resource "aws_iam_role_policy" "table" {
  name = "counter-table"
  role = aws_iam_role.counter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["dynamodb:UpdateItem", "dynamodb:GetItem"]
      Resource = local.table_arn
    }]
  })
}

resource "aws_lambda_function" "counter" {
  function_name                  = var.function_name
  role                           = aws_iam_role.counter.arn
  filename                       = var.zip_file
  source_code_hash               = filebase64sha256(var.zip_file)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = 128
  timeout                        = 5
  reserved_concurrent_executions = var.max_concurrency

  environment {
    variables = {
      COUNTER_TABLE = var.table_name
      # Empty: the function adds no CORS headers; the Function URL's CORS
      # answers instead (both would double the headers).
      COUNTER_ALLOWED_ORIGINS = ""
    }
  }

  depends_on = [aws_iam_role_policy_attachment.logs, aws_iam_role_policy.table]
}

resource "aws_lambda_function_url" "counter" {
  function_name      = aws_lambda_function.counter.function_name
  authorization_type = "NONE"

  cors {
    allow_origins = [var.allowed_origin]
    allow_methods = ["GET", "HEAD"]
    max_age       = 300
  }
}

# A public Function URL needs both statements since October 2025.
resource "aws_lambda_permission" "url" {
  statement_id           = "CounterPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.counter.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "url_invoke" {
  statement_id             = "CounterPublicFunctionUrlInvoke"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.counter.function_name
  principal                = "*"
  invoked_via_function_url = true
}
