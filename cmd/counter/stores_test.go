package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// describedTable answers DescribeTable with a table of the given keys.
type describedTable struct{ out *dynamodb.DescribeTableOutput }

func (d describedTable) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return d.out, nil
}

func table(keys []types.KeySchemaElement, attrs ...types.AttributeDefinition) describedTable {
	return describedTable{&dynamodb.DescribeTableOutput{Table: &types.TableDescription{KeySchema: keys, AttributeDefinitions: attrs}}}
}

func key(name string, kind types.KeyType) types.KeySchemaElement {
	return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kind}
}

func attr(name string, kind types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: kind}
}

// TestCheckTable: only a string partition key named id without a sort key
// passes; the error names what is wrong and what the table needs. (The
// same against dynalite's real tables: TestStartupErrors.)
func TestCheckTable(t *testing.T) {
	const needs = "the counter needs string (S) partition key id and no sort key: create such a table, or set COUNTER_TABLE"
	for _, tc := range []struct {
		name  string
		table describedTable
		want  string // "" for no error
	}{
		{"right", table([]types.KeySchemaElement{key("id", types.KeyTypeHash)}, attr("id", types.ScalarAttributeTypeS)), ""},
		{"number id", table([]types.KeySchemaElement{key("id", types.KeyTypeHash)}, attr("id", types.ScalarAttributeTypeN)),
			"DynamoDB table t has partition key id of type N; " + needs},
		{"binary id", table([]types.KeySchemaElement{key("id", types.KeyTypeHash)}, attr("id", types.ScalarAttributeTypeB)),
			"DynamoDB table t has partition key id of type B; " + needs},
		{"id without a definition", table([]types.KeySchemaElement{key("id", types.KeyTypeHash)}),
			"DynamoDB table t has partition key id of type unknown; " + needs},
		{"other name", table([]types.KeySchemaElement{key("pk", types.KeyTypeHash)}, attr("pk", types.ScalarAttributeTypeS)),
			"DynamoDB table t has partition key pk; " + needs},
		{"sort key", table([]types.KeySchemaElement{key("id", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
			attr("id", types.ScalarAttributeTypeS), attr("sk", types.ScalarAttributeTypeS)),
			"DynamoDB table t has sort key sk; " + needs},
		{"sort key listed first", table([]types.KeySchemaElement{key("sk", types.KeyTypeRange), key("id", types.KeyTypeHash)},
			attr("sk", types.ScalarAttributeTypeN), attr("id", types.ScalarAttributeTypeS)),
			"DynamoDB table t has sort key sk; " + needs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkTable(context.Background(), tc.table, "t", "us-east-1")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("error %v\nwant %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("more than one line: %q", err)
			}
		})
	}
}
