package main

// Offline checks of the infrastructure code: template.yaml (AWS SAM) and
// terraform/*.tf describe the same stack, and both grant the function
// exactly the DynamoDB actions the stores call (wantActions) on its table.
// schema_test.go checks both against AWS's and Terraform's schemas. These
// imports are test-only: they do not reach the Lambda binary.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"gopkg.in/yaml.v3"
)

// wantActions are what the store calls (counter.DynamoAPI lists them):
// UpdateItem counts and writes visitor markers and daily salts, GetItem and
// BatchGetItem read counts, visits, history and sharded counts;
// DescribeTimeToLive is the check at start that the table deletes markers
// and salts (Dynamo.LogTTL).
var wantActions = []string{ // sorted
	"dynamodb:BatchGetItem", "dynamodb:DescribeTimeToLive", "dynamodb:GetItem", "dynamodb:UpdateItem",
}

// --- AWS SAM -------------------------------------------------------------

// cfnShort maps CloudFormation's short intrinsic tags to their long names.
var cfnShort = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!Sub": "Fn::Sub", "!Transform": "Fn::Transform",
	"!And": "Fn::And", "!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not", "!Or": "Fn::Or",
}

// cfnValue decodes a YAML node into plain Go values, turning short
// intrinsics (!Ref X) into their JSON form ({"Ref": "X"}), as CloudFormation
// reads them.
func cfnValue(t *testing.T, n *yaml.Node) any {
	t.Helper()
	if n.Kind == yaml.DocumentNode {
		return cfnValue(t, n.Content[0])
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name, ok := cfnShort[n.Tag]
		if !ok {
			t.Fatalf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		plain := *n
		plain.Tag = ""
		if plain.Kind == yaml.ScalarNode {
			plain.Tag = "!!str"
		}
		v := cfnValue(t, &plain)
		if s, ok := v.(string); ok && name == "Fn::GetAtt" {
			a, b, _ := strings.Cut(s, ".") // !GetAtt A.B means ["A", "B"]
			v = []any{a, b}
		}
		return map[string]any{name: v}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i < len(n.Content); i += 2 {
			m[n.Content[i].Value] = cfnValue(t, n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = cfnValue(t, c)
		}
		return s
	case yaml.AliasNode:
		return cfnValue(t, n.Alias)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatalf("line %d: %v", n.Line, err)
	}
	return v
}

// get walks a decoded template along path, failing the test where it ends.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a mapping", path[:i])
			}
			if v, ok = m[p]; !ok {
				t.Fatalf("%v: missing", path[:i+1])
			}
		case int:
			s, ok := v.([]any)
			if !ok || p >= len(s) {
				t.Fatalf("%v: no element %d", path[:i], p)
			}
			v = s[p]
		}
	}
	return v
}

func loadSAM(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return cfnValue(t, &doc).(map[string]any)
}

func TestSAMTemplate(t *testing.T) {
	tpl := loadSAM(t)
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("Transform", tpl["Transform"], "AWS::Serverless-2016-10-31")
	ref := func(name string) any { return map[string]any{"Ref": name} }
	tableARN := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}"}

	table := get(t, tpl, "Resources", "CounterTable")
	check("table type", get(t, table, "Type"), "AWS::DynamoDB::Table")
	check("table name", get(t, table, "Properties", "TableName"), ref("TableName"))
	check("table name default", get(t, tpl, "Parameters", "TableName", "Default"), "cloud-resume-stats")
	check("billing mode", get(t, table, "Properties", "BillingMode"), "PAY_PER_REQUEST")
	check("key schema", get(t, table, "Properties", "KeySchema"), []any{map[string]any{"AttributeName": "id", "KeyType": "HASH"}})
	check("attributes", get(t, table, "Properties", "AttributeDefinitions"), []any{map[string]any{"AttributeName": "id", "AttributeType": "S"}})
	check("time to live", get(t, table, "Properties", "TimeToLiveSpecification"), map[string]any{"AttributeName": "ttl", "Enabled": true})

	fn := get(t, tpl, "Resources", "CounterFunction")
	props := get(t, fn, "Properties")
	check("function type", get(t, fn, "Type"), "AWS::Serverless::Function")
	check("runtime", get(t, props, "Runtime"), "provided.al2023")
	check("architectures", get(t, props, "Architectures"), []any{"arm64"})
	check("handler", get(t, props, "Handler"), "bootstrap")
	// Reserved concurrency is opt-in: with the default 0 the property is
	// left out (AWS::NoValue), as a reservation on an account whose quota
	// is below it + 100 fails to deploy.
	check("reserved concurrency", get(t, props, "ReservedConcurrentExecutions"),
		map[string]any{"Fn::If": []any{"Reserve", ref("MaxConcurrency"), ref("AWS::NoValue")}})
	check("Reserve condition", get(t, tpl, "Conditions", "Reserve"),
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("MaxConcurrency"), 0}}}})
	check("MaxConcurrency default", get(t, tpl, "Parameters", "MaxConcurrency", "Default"), 0)
	check("MaxConcurrency minimum", get(t, tpl, "Parameters", "MaxConcurrency", "MinValue"), 0)
	check("COUNTER_TABLE", get(t, props, "Environment", "Variables", "COUNTER_TABLE"), ref("TableName"))
	// One place decides CORS: the handlers, from COUNTER_ALLOWED_ORIGINS.
	check("COUNTER_ALLOWED_ORIGINS", get(t, props, "Environment", "Variables", "COUNTER_ALLOWED_ORIGINS"), ref("AllowedOrigin"))
	check("COUNTER_KEYS", get(t, props, "Environment", "Variables", "COUNTER_KEYS"), ref("AllowedKeys"))
	check("AllowedKeys default", get(t, tpl, "Parameters", "AllowedKeys", "Default"), "visitors")
	check("URL auth", get(t, props, "FunctionUrlConfig", "AuthType"), "NONE")
	if _, ok := get(t, props, "FunctionUrlConfig").(map[string]any)["Cors"]; ok {
		t.Error("FunctionUrlConfig has Cors: the handlers answer CORS, and both would double the headers")
	}
	check("URL output", get(t, tpl, "Outputs", "CounterUrl", "Value"), map[string]any{"Fn::GetAtt": []any{"CounterFunctionUrl", "FunctionUrl"}})

	// The only permissions: one statement, exactly the two actions, on
	// exactly the table's ARN (no index, no wildcard, no policy template).
	policies := get(t, props, "Policies").([]any)
	if len(policies) != 1 {
		t.Fatalf("%d policies, want 1 inline policy document", len(policies))
	}
	stmts := get(t, policies[0], "Statement").([]any)
	if len(stmts) != 1 {
		t.Fatalf("%d statements, want 1", len(stmts))
	}
	check("effect", get(t, stmts[0], "Effect"), "Allow")
	var actions []string
	for _, a := range get(t, stmts[0], "Action").([]any) {
		actions = append(actions, a.(string))
	}
	slices.Sort(actions)
	check("actions", actions, wantActions)
	check("resource", get(t, stmts[0], "Resource"), tableARN)
	if len(stmts[0].(map[string]any)) != 3 {
		t.Errorf("statement has more than Effect, Action, Resource: %v", stmts[0])
	}
	// The ARN's ${TableName} is the same parameter the table and the
	// function's COUNTER_TABLE use, so the grant follows the table.
	if _, ok := get(t, tpl, "Parameters").(map[string]any)["TableName"]; !ok {
		t.Error("no TableName parameter")
	}
}

// Every Ref, GetAtt, Sub variable and Condition in the template names a
// parameter, a resource, a condition, a pseudo parameter or a resource that
// SAM generates.
func TestSAMTemplateReferences(t *testing.T) {
	tpl := loadSAM(t)
	known := map[string]bool{"CounterFunctionUrl": true, "CounterFunctionRole": true} // generated by SAM
	for _, section := range []string{"Parameters", "Resources", "Conditions"} {
		for name := range get(t, tpl, section).(map[string]any) {
			known[name] = true
		}
	}
	subVar := regexp.MustCompile(`\$\{([^}!]+)\}`)
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				var names []string
				switch k {
				case "Ref":
					names = []string{c.(string)}
				case "Fn::GetAtt":
					names = []string{c.([]any)[0].(string)}
				case "Fn::Sub":
					if s, ok := c.(string); ok {
						for _, m := range subVar.FindAllStringSubmatch(s, -1) {
							names = append(names, strings.SplitN(m[1], ".", 2)[0])
						}
					}
				case "Condition":
					if s, ok := c.(string); ok {
						names = []string{s}
					}
				}
				for _, n := range names {
					if !known[n] && !strings.HasPrefix(n, "AWS::") {
						t.Errorf("%s: %s names unknown %q", where, k, n)
					}
				}
				walk(c, where+"."+k)
			}
		case []any:
			for _, c := range v {
				walk(c, where)
			}
		}
	}
	walk(tpl["Resources"], "Resources")
	walk(tpl["Outputs"], "Outputs")
	// The test itself must see references to check.
	if !known["TableName"] || !known["CounterTable"] {
		t.Fatal("parameters or resources not found")
	}
}

// --- Terraform -----------------------------------------------------------

// tfConfig is the blocks of terraform/*.tf, by "type.name" for resources and
// data sources, "var.name" for variables, "local.name" for locals.
type tfConfig struct {
	blocks map[string]*hclsyntax.Body
	attrs  map[string]*hclsyntax.Attribute // locals
}

func loadTerraform(t *testing.T) tfConfig {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("terraform", "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no terraform/*.tf: %v", err)
	}
	p := hclparse.NewParser()
	cfg := tfConfig{blocks: map[string]*hclsyntax.Body{}, attrs: map[string]*hclsyntax.Attribute{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "resource", "data":
				key := b.Labels[0] + "." + b.Labels[1]
				if b.Type == "data" {
					key = "data." + key
				}
				cfg.blocks[key] = b.Body
			case "variable":
				cfg.blocks["var."+b.Labels[0]] = b.Body
			case "output":
				cfg.blocks["output."+b.Labels[0]] = b.Body
			case "locals":
				for name, a := range b.Body.Attributes {
					cfg.attrs["local."+name] = a
				}
			}
		}
	}
	return cfg
}

func (c tfConfig) block(t *testing.T, key string) *hclsyntax.Body {
	t.Helper()
	b, ok := c.blocks[key]
	if !ok {
		t.Fatalf("terraform: no %s", key)
	}
	return b
}

func attr(t *testing.T, b *hclsyntax.Body, name string) hclsyntax.Expression {
	t.Helper()
	a, ok := b.Attributes[name]
	if !ok {
		t.Fatalf("terraform: no attribute %s", name)
	}
	return a.Expr
}

func child(t *testing.T, b *hclsyntax.Body, typ string) *hclsyntax.Body {
	t.Helper()
	for _, c := range b.Blocks {
		if c.Type == typ {
			return c.Body
		}
	}
	t.Fatalf("terraform: no %s block", typ)
	return nil
}

// literal evaluates an expression that references nothing.
func literal(t *testing.T, e hclsyntax.Expression) any {
	t.Helper()
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("terraform: %v", diags)
	}
	b, err := ctyJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func ctyJSON(v cty.Value) ([]byte, error) {
	s, err := stdlib.JSONEncode(v)
	if err != nil {
		return nil, err
	}
	return []byte(s.AsString()), nil
}

// traversal renders a plain reference such as var.table_name or
// aws_dynamodb_table.counter[0].arn; "" for other expressions.
func traversal(e hclsyntax.Expression) string {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return ""
	}
	return renderTraversal(st.Traversal)
}

func renderTraversal(tr hcl.Traversal) string {
	var sb strings.Builder
	for _, s := range tr {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.Number {
				sb.WriteString("[" + s.Key.AsBigFloat().String() + "]")
			} else {
				sb.WriteString("[" + s.Key.AsString() + "]")
			}
		}
	}
	return sb.String()
}

func TestTerraform(t *testing.T) {
	cfg := loadTerraform(t)
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}

	table := cfg.block(t, "aws_dynamodb_table.counter")
	check("table name", traversal(attr(t, table, "name")), "var.table_name")
	check("table name default", literal(t, attr(t, cfg.block(t, "var.table_name"), "default")), "cloud-resume-stats")
	check("billing mode", literal(t, attr(t, table, "billing_mode")), "PAY_PER_REQUEST")
	check("hash key", literal(t, attr(t, table, "hash_key")), "id")
	a := child(t, table, "attribute")
	check("attribute", []any{literal(t, attr(t, a, "name")), literal(t, attr(t, a, "type"))}, []any{"id", "S"})
	ttl := child(t, table, "ttl")
	check("ttl", []any{literal(t, attr(t, ttl, "attribute_name")), literal(t, attr(t, ttl, "enabled"))}, []any{"ttl", true})

	fn := cfg.block(t, "aws_lambda_function.counter")
	check("runtime", literal(t, attr(t, fn, "runtime")), "provided.al2023")
	check("architectures", literal(t, attr(t, fn, "architectures")), []any{"arm64"})
	check("handler", literal(t, attr(t, fn, "handler")), "bootstrap")
	// Reserved concurrency is opt-in: 0 (the default) must become null (no
	// reservation), never 0, which would stop the function.
	check("max_concurrency default", literal(t, attr(t, cfg.block(t, "var.max_concurrency"), "default")), 0.0)
	for _, c := range []struct {
		max  int64
		want cty.Value
	}{{0, cty.NullVal(cty.Number)}, {5, cty.NumberIntVal(5)}, {1000, cty.NumberIntVal(1000)}} {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{"max_concurrency": cty.NumberIntVal(c.max)}),
		}}
		got, diags := attr(t, fn, "reserved_concurrent_executions").Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("reserved_concurrent_executions: %v", diags)
		}
		if !got.RawEquals(c.want) && (!got.IsNull() || !c.want.IsNull()) {
			t.Errorf("reserved_concurrent_executions with max_concurrency = %d: %#v, want %#v", c.max, got, c.want)
		}
	}
	// zip_file defaults to function.zip beside the module, wherever
	// terraform runs: the default is resolved against path.module.
	check("zip_file default", literal(t, attr(t, cfg.block(t, "var.zip_file"), "default")), nil)
	for _, c := range []struct {
		zip  cty.Value
		want string
	}{{cty.NullVal(cty.String), "/src/examples/lambda/terraform/../function.zip"}, {cty.StringVal("/x/f.zip"), "/x/f.zip"}} {
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{
				"var":  cty.ObjectVal(map[string]cty.Value{"zip_file": c.zip}),
				"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal("/src/examples/lambda/terraform")}),
			},
			Functions: map[string]function.Function{"coalesce": stdlib.CoalesceFunc},
		}
		la, ok := cfg.attrs["local.zip_file"]
		if !ok {
			t.Fatal("no local.zip_file")
		}
		got, diags := la.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("local.zip_file: %v", diags)
		}
		check("local.zip_file", got.AsString(), c.want)
	}
	check("filename", traversal(attr(t, fn, "filename")), "local.zip_file")
	env, ok := attr(t, child(t, fn, "environment"), "variables").(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("environment.variables is not an object")
	}
	vars := map[string]hclsyntax.Expression{}
	for _, item := range env.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		vars[k.AsString()] = item.ValueExpr
	}
	check("COUNTER_TABLE", traversal(vars["COUNTER_TABLE"]), "var.table_name")
	// One place decides CORS: the handlers, from COUNTER_ALLOWED_ORIGINS.
	check("COUNTER_ALLOWED_ORIGINS", traversal(vars["COUNTER_ALLOWED_ORIGINS"]), "var.allowed_origin")
	check("COUNTER_KEYS", traversal(vars["COUNTER_KEYS"]), "var.allowed_keys")
	check("allowed_keys default", literal(t, attr(t, cfg.block(t, "var.allowed_keys"), "default")), "visitors")

	url := cfg.block(t, "aws_lambda_function_url.counter")
	check("URL function", renderTraversal(attr(t, url, "function_name").Variables()[0]), "aws_lambda_function.counter.function_name")
	check("URL auth", literal(t, attr(t, url, "authorization_type")), "NONE")
	for _, b := range url.Blocks {
		if b.Type == "cors" {
			t.Error("aws_lambda_function_url has a cors block: the handlers answer CORS, and both would double the headers")
		}
	}
	check("URL output", traversal(attr(t, cfg.block(t, "output.counter_url"), "value")), "aws_lambda_function_url.counter.function_url")

	// Public URL: aws_lambda_function_url adds the lambda:InvokeFunctionUrl
	// statement itself; the stack adds lambda:InvokeFunction through the URL,
	// which Lambda requires too since October 2025.
	perms := map[string]map[string]any{}
	for key, b := range cfg.blocks {
		if !strings.HasPrefix(key, "aws_lambda_permission.") {
			continue
		}
		p := map[string]any{}
		for name, a := range b.Attributes {
			if name == "function_name" {
				p[name] = renderTraversal(a.Expr.Variables()[0])
			} else {
				p[name] = literal(t, a.Expr)
			}
		}
		delete(p, "statement_id")
		perms[p["action"].(string)] = p
	}
	check("InvokeFunction permission", perms["lambda:InvokeFunction"], map[string]any{
		"action": "lambda:InvokeFunction", "function_name": "aws_lambda_function.counter.function_name",
		"principal": "*", "invoked_via_function_url": true,
	})
	check("permissions", len(perms), 1)

	// The only grant: exactly the two actions on exactly the table's ARN.
	var policies []string
	for key := range cfg.blocks {
		if strings.HasPrefix(key, "aws_iam_role_policy.") || strings.HasPrefix(key, "aws_iam_policy.") {
			policies = append(policies, key)
		}
	}
	check("inline policies", policies, []string{"aws_iam_role_policy.table"})
	const arnMarker = "TABLE-ARN"
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{"table_arn": cty.StringVal(arnMarker)})},
		Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc},
	}
	v, diags := attr(t, cfg.block(t, "aws_iam_role_policy.table"), "policy").Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("policy: %v", diags)
	}
	var doc struct {
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(v.AsString()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 {
		t.Fatalf("%d statements, want 1", len(doc.Statement))
	}
	s := doc.Statement[0]
	check("effect", s["Effect"], "Allow")
	var actions []string
	for _, a := range s["Action"].([]any) {
		actions = append(actions, a.(string))
	}
	slices.Sort(actions)
	check("actions", actions, wantActions)
	check("resource", s["Resource"], arnMarker)
	check("statement keys", len(s), 3)
	check("policy role", renderTraversal(attr(t, cfg.block(t, "aws_iam_role_policy.table"), "role").Variables()[0]), "aws_iam_role.counter.id")
	check("function role", renderTraversal(attr(t, fn, "role").Variables()[0]), "aws_iam_role.counter.arn")

	// local.table_arn is the created table's ARN or the existing one's.
	la, ok := cfg.attrs["local.table_arn"]
	if !ok {
		t.Fatal("no local.table_arn")
	}
	var refs []string
	for _, tr := range la.Expr.Variables() {
		refs = append(refs, renderTraversal(tr))
	}
	slices.Sort(refs)
	check("local.table_arn refers to", refs, []string{"aws_dynamodb_table.counter[0].arn", "data.aws_dynamodb_table.existing[0].arn", "var.create_table"})
}

// Every var.X, local.X, resource and data source the configuration refers
// to is declared.
func TestTerraformReferences(t *testing.T) {
	cfg := loadTerraform(t)
	var exprs []hclsyntax.Expression
	var collect func(b *hclsyntax.Body)
	collect = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			exprs = append(exprs, a.Expr)
		}
		for _, c := range b.Blocks {
			collect(c.Body)
		}
	}
	for _, b := range cfg.blocks {
		collect(b)
	}
	for _, a := range cfg.attrs {
		exprs = append(exprs, a.Expr)
	}
	n := 0
	for _, e := range exprs {
		for _, tr := range e.Variables() {
			if len(tr) == 1 {
				continue // a bare object key such as Version in jsonencode({Version = ...})
			}
			n++
			parts := strings.Split(renderTraversal(tr), ".")
			var key string
			switch parts[0] {
			case "path", "terraform":
				if r := renderTraversal(tr); r != "path.module" && r != "path.root" && r != "path.cwd" && r != "terraform.workspace" {
					t.Errorf("%s: %s is not a Terraform built-in", tr.SourceRange(), r)
				}
				continue
			case "var", "local":
				key = parts[0] + "." + parts[1]
			case "data":
				key = "data." + parts[1] + "." + strings.SplitN(parts[2], "[", 2)[0]
			default:
				key = parts[0] + "." + strings.SplitN(parts[1], "[", 2)[0]
			}
			_, isBlock := cfg.blocks[key]
			_, isLocal := cfg.attrs[key]
			if !isBlock && !isLocal {
				t.Errorf("%s: %s is not declared", tr.SourceRange(), renderTraversal(tr))
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d references found", n)
	}
}
