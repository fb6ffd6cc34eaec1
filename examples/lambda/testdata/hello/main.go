// Command hello is the smallest payload-2.0 Lambda function: the baseline
// that BenchmarkColdStart compares the counter's cold start with. It is built
// exactly like the counter (see ../../README.md).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			Body:       "hello",
		}, nil
	})
}
