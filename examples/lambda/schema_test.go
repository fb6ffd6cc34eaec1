package main

// Offline checks of both stacks against real schemas, from the npm packages
// pinned in package-lock.json:
//
//   - template.yaml against CloudFormation's resource specification in
//     @aws-cdk/aws-service-spec (db.json.gz): resource types, property
//     names at every depth, required properties, allowed values and the
//     attributes Fn::GetAtt names;
//   - terraform/*.tf against the AWS provider's schema as @cdktf/provider-aws
//     generates it (one lib/<resource>/index.d.ts per resource type):
//     resource and data source types, arguments, blocks at every depth and
//     required arguments.

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/resumecounter/counter/internal/testenv"
)

// nodeModules returns the directory of the npm packages, or skips (fails
// under CI=true) when they are not installed.
func nodeModules(t *testing.T, pkg string) string {
	t.Helper()
	dir := filepath.Join(testenv.Root(t), "node_modules", pkg)
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		testenv.Missing(t, fmt.Sprintf("npm package %s not installed (npm ci)", pkg))
	}
	return dir
}

// --- CloudFormation ------------------------------------------------------

// cfnType is a property type in @aws-cdk/aws-service-spec: a primitive
// ("string", "integer", "boolean", "json", ...), "array" or "map" of
// Element, "ref" to a type definition, or a "union" of Types.
type cfnType struct {
	Type      string   `json:"type"`
	Element   *cfnType `json:"element"`
	Reference *struct {
		Ref string `json:"$ref"`
	} `json:"reference"`
	Types         []*cfnType `json:"types"`
	AllowedValues []any      `json:"allowedValues"` // strings, some numbers
}

type cfnProperty struct {
	Type     *cfnType `json:"type"`
	Required bool     `json:"required"`
}

type cfnResource struct {
	ID         string                     `json:"$id"`
	Type       string                     `json:"cloudFormationType"`
	Properties map[string]*cfnProperty    `json:"properties"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

type cfnTypeDef struct {
	ID         string                  `json:"$id"`
	Name       string                  `json:"name"`
	Properties map[string]*cfnProperty `json:"properties"`
}

// cfnSpec is the part of the service spec database the checks read.
type cfnSpec struct {
	resources map[string]*cfnResource // by CloudFormation type
	types     map[string]*cfnTypeDef  // by $id
}

func loadCFNSpec(t *testing.T) *cfnSpec {
	t.Helper()
	path := filepath.Join(nodeModules(t, "@aws-cdk/aws-service-spec"), "db.json.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var db struct {
		Schema struct {
			Resource       struct{ Entities []*cfnResource } `json:"resource"`
			TypeDefinition struct{ Entities []*cfnTypeDef }  `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(zr).Decode(&db); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := &cfnSpec{resources: map[string]*cfnResource{}, types: map[string]*cfnTypeDef{}}
	for _, r := range db.Schema.Resource.Entities {
		s.resources[r.Type] = r
	}
	for _, d := range db.Schema.TypeDefinition.Entities {
		s.types[d.ID] = d
	}
	// The checks below must have something to check against.
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::Lambda::Url", "AWS::Serverless::Function"} {
		if r := s.resources[typ]; r == nil || len(r.Properties) == 0 {
			t.Fatalf("%s: no %s in the spec", path, typ)
		}
	}
	return s
}

// samExpansion lists the resources the SAM transform makes from an
// AWS::Serverless::Function with FunctionUrlConfig and without Role, by the
// suffix it appends to the function's logical id; Fn::GetAtt may name them.
var samExpansion = map[string]string{
	"":                           "AWS::Lambda::Function",
	"Role":                       "AWS::IAM::Role",
	"Url":                        "AWS::Lambda::Url",
	"UrlPublicPermissions":       "AWS::Lambda::Permission",
	"URLInvokeAllowPublicAccess": "AWS::Lambda::Permission",
}

// samFunctionOwn are the AWS::Serverless::Function properties that are
// SAM's own; the others pass through to AWS::Lambda::Function unchanged and
// are checked against its schema.
var samFunctionOwn = map[string]bool{
	"AssumeRolePolicyDocument": true, "AutoPublishAlias": true, "AutoPublishCodeSha256": true,
	"CodeUri": true, "DeadLetterQueue": true, "DeploymentPreference": true, "EventInvokeConfig": true,
	"Events": true, "FunctionUrlConfig": true, "InlineCode": true, "Policies": true,
	"ProvisionedConcurrencyConfig": true, "Tags": true, "VersionDescription": true,
	"Layers": true, "ImageUri": true, "Tracing": true, "DeploymentPreferences": true,
}

var resourceKeys = map[string]bool{
	"Type": true, "Properties": true, "Condition": true, "DependsOn": true, "DeletionPolicy": true,
	"UpdateReplacePolicy": true, "Metadata": true, "UpdatePolicy": true, "CreationPolicy": true,
}

var templateKeys = map[string]bool{
	"AWSTemplateFormatVersion": true, "Transform": true, "Description": true, "Parameters": true,
	"Conditions": true, "Resources": true, "Outputs": true, "Mappings": true, "Metadata": true,
	"Rules": true, "Globals": true,
}

// isIntrinsic reports whether v is a function call such as {"Ref": "X"} or
// {"Fn::If": [...]}, whose value only CloudFormation knows.
func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// checkTemplate returns every way the decoded template departs from the
// spec, sorted.
func (s *cfnSpec) checkTemplate(tpl map[string]any) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for k := range tpl {
		if !templateKeys[k] {
			bad("template: unknown section %s", k)
		}
	}
	resources, _ := tpl["Resources"].(map[string]any)
	if len(resources) == 0 {
		bad("template: no Resources")
	}
	types := map[string]string{} // logical id -> type, with SAM's expansion
	for id, r := range resources {
		rm, ok := r.(map[string]any)
		if !ok {
			bad("%s: not a mapping", id)
			continue
		}
		typ, _ := rm["Type"].(string)
		types[id] = typ
		if typ == "AWS::Serverless::Function" {
			for suffix, expanded := range samExpansion {
				if suffix != "" {
					types[id+suffix] = expanded
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		rm, ok := resources[id].(map[string]any)
		if !ok {
			continue
		}
		for k := range rm {
			if !resourceKeys[k] {
				bad("%s: unknown resource key %s", id, k)
			}
		}
		typ := types[id]
		spec := s.resources[typ]
		if spec == nil {
			bad("%s: unknown resource type %q", id, typ)
			continue
		}
		props, _ := rm["Properties"].(map[string]any)
		where := "Resources." + id + ".Properties"
		if typ != "AWS::Serverless::Function" {
			s.checkObject(where, props, spec.Properties, &errs)
			continue
		}
		// SAM: property names from SAM's spec, values from what each
		// property becomes. SAM's spec models FunctionUrlConfig.Cors as API
		// Gateway's CORS; FunctionUrlConfig becomes an AWS::Lambda::Url,
		// whose TargetFunctionArn SAM fills in.
		lambda := s.resources["AWS::Lambda::Function"].Properties
		url := maps.Clone(s.resources["AWS::Lambda::Url"].Properties)
		delete(url, "TargetFunctionArn")
		for _, name := range slices.Sorted(maps.Keys(props)) {
			v := props[name]
			p := spec.Properties[name]
			switch {
			case p == nil:
				bad("%s.%s: unknown property of %s", where, name, typ)
			case name == "FunctionUrlConfig":
				m, ok := v.(map[string]any)
				if !ok && !isIntrinsic(v) {
					bad("%s.%s: want a mapping", where, name)
				}
				s.checkObject(where+"."+name, m, url, &errs)
			case !samFunctionOwn[name] && lambda[name] != nil:
				s.checkValue(where+"."+name, v, lambda[name].Type, &errs)
			default:
				s.checkValue(where+"."+name, v, p.Type, &errs)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(spec.Properties)) {
			if _, ok := props[name]; spec.Properties[name].Required && !ok {
				bad("%s: missing required property %s", where, name)
			}
		}
	}
	// Every Fn::GetAtt (and ${X.Y} in Fn::Sub) names an attribute the
	// resource's type has.
	var walk func(v any, where string)
	getAtt := func(res, attr, where string) {
		typ, ok := types[res]
		if !ok {
			bad("%s: Fn::GetAtt of unknown resource %s", where, res)
			return
		}
		if spec := s.resources[typ]; spec != nil {
			if _, ok := spec.Attributes[attr]; !ok {
				bad("%s: Fn::GetAtt %s.%s: %s has no attribute %s", where, res, attr, typ, attr)
			}
		}
	}
	subVar := regexp.MustCompile(`\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}`)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				res, _ := ga[0].(string)
				attr, _ := ga[1].(string)
				getAtt(res, attr, where)
			}
			if sub, ok := v["Fn::Sub"]; ok {
				str, _ := sub.(string)
				if l, ok := sub.([]any); ok && len(l) > 0 {
					str, _ = l[0].(string)
				}
				for _, m := range subVar.FindAllStringSubmatch(str, -1) {
					if m[1] != "AWS" {
						getAtt(m[1], m[2], where)
					}
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k], where+"."+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s[%d]", where, i))
			}
		}
	}
	walk(tpl["Resources"], "Resources")
	walk(tpl["Outputs"], "Outputs")
	slices.Sort(errs)
	return errs
}

// checkObject checks a mapping against a set of properties: every key
// known, every required one present.
func (s *cfnSpec) checkObject(where string, m map[string]any, props map[string]*cfnProperty, errs *[]string) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		p, ok := props[name]
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s.%s: unknown property", where, name))
			continue
		}
		s.checkValue(where+"."+name, m[name], p.Type, errs)
	}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		if _, ok := m[name]; props[name].Required && !ok {
			*errs = append(*errs, fmt.Sprintf("%s: missing required property %s", where, name))
		}
	}
}

// checkValue checks one value against a property type. Intrinsic functions
// pass: their value is known only when the stack is deployed.
func (s *cfnSpec) checkValue(where string, v any, typ *cfnType, errs *[]string) {
	if typ == nil || isIntrinsic(v) {
		return
	}
	bad := func(format string, args ...any) {
		*errs = append(*errs, where+": "+fmt.Sprintf(format, args...))
	}
	switch typ.Type {
	case "json", "tag":
	case "string", "date-time":
		switch v.(type) {
		case string, int, float64, bool:
		default:
			bad("want a string, got %T", v)
		}
		if str, ok := v.(string); ok && len(typ.AllowedValues) > 0 && !slices.Contains(typ.AllowedValues, any(str)) {
			bad("%q is not one of %v", str, typ.AllowedValues)
		}
	case "integer", "number":
		switch v := v.(type) {
		case int, float64:
		case string:
			if !regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`).MatchString(v) {
				bad("want a number, got %q", v)
			}
		default:
			bad("want a number, got %T", v)
		}
	case "boolean":
		switch v := v.(type) {
		case bool:
		case string:
			if v != "true" && v != "false" {
				bad("want a boolean, got %q", v)
			}
		default:
			bad("want a boolean, got %T", v)
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			bad("want a list, got %T", v)
			return
		}
		for i, e := range l {
			s.checkValue(fmt.Sprintf("%s[%d]", where, i), e, typ.Element, errs)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want a mapping, got %T", v)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s.checkValue(where+"."+k, m[k], typ.Element, errs)
		}
	case "ref":
		def := s.types[typ.Reference.Ref]
		if def == nil {
			bad("spec: no type %s", typ.Reference.Ref)
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad("want a mapping (%s), got %T", def.Name, v)
			return
		}
		s.checkObject(where, m, def.Properties, errs)
	case "union":
		// The value must fit one of the types; report the closest fit.
		var best []string
		for i, alt := range typ.Types {
			var e []string
			s.checkValue(where, v, alt, &e)
			if len(e) == 0 {
				return
			}
			if i == 0 || len(e) < len(best) {
				best = e
			}
		}
		*errs = append(*errs, best...)
	default:
		bad("spec: unknown type kind %q", typ.Type)
	}
}

func TestSAMTemplateSchema(t *testing.T) {
	spec := loadCFNSpec(t)
	tpl := loadSAM(t)
	if errs := spec.checkTemplate(tpl); len(errs) > 0 {
		t.Errorf("template.yaml against the CloudFormation spec:\n%s", strings.Join(errs, "\n"))
	}

	// Each mistake below, made in a copy of the template, must be reported.
	mutations := []struct {
		name string
		edit func(tpl map[string]any)
		want string
	}{
		{"typo in a table property", func(tpl map[string]any) {
			rename(t, tpl, "BillingMode", "BilingMode", "Resources", "CounterTable", "Properties")
		}, "Resources.CounterTable.Properties.BilingMode: unknown property"},
		{"typo in a nested table property", func(tpl map[string]any) {
			rename(t, tpl, "AttributeName", "AttributeNme", "Resources", "CounterTable", "Properties", "TimeToLiveSpecification")
		}, "TimeToLiveSpecification.AttributeNme: unknown property"},
		{"missing required property", func(tpl map[string]any) {
			delete(get(t, tpl, "Resources", "CounterTable", "Properties").(map[string]any), "KeySchema")
		}, "missing required property KeySchema"},
		{"typo in a SAM function property", func(tpl map[string]any) {
			rename(t, tpl, "MemorySize", "MemorySise", "Resources", "CounterFunction", "Properties")
		}, "MemorySise: unknown property of AWS::Serverless::Function"},
		{"typo in a Lambda pass-through value", func(tpl map[string]any) {
			rename(t, tpl, "Variables", "Variable", "Resources", "CounterFunction", "Properties", "Environment")
		}, "Environment.Variable: unknown property"},
		{"typo in FunctionUrlConfig", func(tpl map[string]any) {
			rename(t, tpl, "AuthType", "Authtype", "Resources", "CounterFunction", "Properties", "FunctionUrlConfig")
		}, "FunctionUrlConfig.Authtype: unknown property"},
		{"value not allowed", func(tpl map[string]any) {
			get(t, tpl, "Resources", "CounterFunction", "Properties", "FunctionUrlConfig").(map[string]any)["AuthType"] = "PUBLIC"
		}, `"PUBLIC" is not one of`},
		{"Function URL CORS as SAM's spec has it (API Gateway's)", func(tpl map[string]any) {
			get(t, tpl, "Resources", "CounterFunction", "Properties", "FunctionUrlConfig").(map[string]any)["Cors"] = map[string]any{"AllowOrigin": "'*'"}
		}, "FunctionUrlConfig.Cors.AllowOrigin: unknown property"},
		{"GetAtt of a missing attribute", func(tpl map[string]any) {
			get(t, tpl, "Outputs", "CounterUrl").(map[string]any)["Value"] = map[string]any{"Fn::GetAtt": []any{"CounterFunctionUrl", "Url"}}
		}, "AWS::Lambda::Url has no attribute Url"},
		{"unknown resource type", func(tpl map[string]any) {
			get(t, tpl, "Resources", "CounterTable").(map[string]any)["Type"] = "AWS::DynamoDB::Tabel"
		}, `unknown resource type "AWS::DynamoDB::Tabel"`},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl := loadSAM(t) // a fresh copy
			m.edit(tpl)
			errs := spec.checkTemplate(tpl)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, m.want) }) {
				t.Errorf("not reported: want an error containing %q, got %q", m.want, errs)
			}
		})
	}
}

// rename renames key old to to in the mapping at path.
func rename(t *testing.T, tpl map[string]any, old, to string, path ...any) {
	t.Helper()
	m := get(t, tpl, path...).(map[string]any)
	v, ok := m[old]
	if !ok {
		t.Fatalf("%v: no %s", path, old)
	}
	delete(m, old)
	m[to] = v
}

// --- Terraform -----------------------------------------------------------

// tfSchema is the arguments and blocks of one resource type or nested block.
type tfSchema struct {
	args   map[string]bool      // name -> required
	blocks map[string]*tfSchema // nested block types
}

// tfMeta are Terraform's meta-arguments, valid in every resource and data
// source; lifecycle, provisioner and connection are blocks.
var tfMeta = map[string]bool{"count": true, "for_each": true, "provider": true, "depends_on": true}
var tfMetaBlocks = map[string]bool{"lifecycle": true, "provisioner": true, "connection": true}

// tfNewerThanSchema lists arguments the stack uses that the AWS provider
// added after the release @cdktf/provider-aws was generated from (6.25):
// terraform/versions.tf requires 6.29, which added invoked_via_function_url.
// TestTerraformSchema fails once the package has them, so the list shrinks.
var tfNewerThanSchema = map[string][]string{
	"aws_lambda_permission": {"invoked_via_function_url"},
}

var (
	dtsInterface = regexp.MustCompile(`^export interface (\w+)(?: extends [\w.]+)? \{$`)
	dtsAnchor    = regexp.MustCompile(`\{@link https://registry\.terraform\.io/\S+#(\w+) \w+#\w+\}`)
	dtsProperty  = regexp.MustCompile(`^\s+readonly (\w+)(\??): (.+?);?$`) // "{" opens a map type
	dtsTypeName  = regexp.MustCompile(`^(\w+)(?:\[\])?(?: \| cdktf\.IResolvable)?$`)
	dtsResource  = regexp.MustCompile(`static readonly tfResourceType = "(\w+)";`)
)

// loadTFSchema reads the schema of one resource type ("aws_lambda_function")
// or data source ("data.aws_partition") from the generated TypeScript
// declarations of @cdktf/provider-aws: lib/<name>/index.d.ts holds the
// resource's Config interface and one interface per nested block, each
// property documented with its Terraform name and marked "?" when optional.
func loadTFSchema(lib, typ string) (*tfSchema, error) {
	name, data := strings.CutPrefix(typ, "data.")
	dir := strings.ReplaceAll(strings.TrimPrefix(name, "aws_"), "_", "-")
	if data {
		dir = "data-aws-" + dir
	}
	path := filepath.Join(lib, dir, "index.d.ts")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unknown %s: %w", typ, err)
	}
	src := string(b)
	if m := dtsResource.FindStringSubmatch(src); m == nil || m[1] != name {
		return nil, fmt.Errorf("%s: not the schema of %s", path, name)
	}
	type prop struct {
		tfName, typ string
		optional    bool
	}
	ifaces := map[string][]prop{}
	var config, cur, anchor string
	for line := range strings.Lines(src) {
		line = strings.TrimRight(line, "\n")
		if m := dtsInterface.FindStringSubmatch(line); m != nil {
			cur = m[1]
			ifaces[cur] = nil
			if strings.HasSuffix(line, "extends cdktf.TerraformMetaArguments {") {
				config = cur
			}
			continue
		}
		if cur == "" {
			continue
		}
		if line == "}" {
			cur = ""
			continue
		}
		if m := dtsAnchor.FindStringSubmatch(line); m != nil {
			anchor = m[1]
		}
		if m := dtsProperty.FindStringSubmatch(line); m != nil {
			if anchor == "" {
				return nil, fmt.Errorf("%s: %s.%s has no Terraform name", path, cur, m[1])
			}
			ifaces[cur] = append(ifaces[cur], prop{tfName: anchor, typ: m[3], optional: m[2] == "?"})
			anchor = ""
		}
	}
	if config == "" {
		return nil, fmt.Errorf("%s: no Config interface", path)
	}
	var build func(iface string, depth int) *tfSchema
	build = func(iface string, depth int) *tfSchema {
		s := &tfSchema{args: map[string]bool{}, blocks: map[string]*tfSchema{}}
		for _, p := range ifaces[iface] {
			if m := dtsTypeName.FindStringSubmatch(p.typ); m != nil && depth < 10 {
				if _, ok := ifaces[m[1]]; ok {
					s.blocks[p.tfName] = build(m[1], depth+1)
					continue
				}
			}
			s.args[p.tfName] = !p.optional
		}
		return s
	}
	return build(config, 0), nil
}

// tfCheck checks every resource and data source of the configuration:
// known type, known arguments and blocks at every depth, required
// arguments present.
func tfCheck(lib string, cfg tfConfig) []string {
	var errs []string
	var check func(where string, body *hclsyntax.Body, s *tfSchema, top bool)
	check = func(where string, body *hclsyntax.Body, s *tfSchema, top bool) {
		for _, name := range slices.Sorted(maps.Keys(body.Attributes)) {
			if _, ok := s.args[name]; !ok && (!top || !tfMeta[name]) {
				if _, isBlock := s.blocks[name]; isBlock {
					errs = append(errs, fmt.Sprintf("%s: %s is a block, not an argument", where, name))
				} else {
					errs = append(errs, fmt.Sprintf("%s: unknown argument %s", where, name))
				}
			}
		}
		for _, b := range body.Blocks {
			typ := b.Type
			if typ == "dynamic" && len(b.Labels) == 1 {
				typ = b.Labels[0]
			}
			if top && tfMetaBlocks[typ] {
				continue
			}
			nested, ok := s.blocks[typ]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: unknown block %s", where, typ))
				continue
			}
			if b.Type == "dynamic" {
				for _, c := range b.Body.Blocks {
					if c.Type == "content" {
						check(where+"."+typ, c.Body, nested, false)
					}
				}
				continue
			}
			check(where+"."+typ, b.Body, nested, false)
		}
		for _, name := range slices.Sorted(maps.Keys(s.args)) {
			if _, ok := body.Attributes[name]; s.args[name] && !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required argument %s", where, name))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.blocks)) {
		if strings.HasPrefix(key, "var.") || strings.HasPrefix(key, "output.") {
			continue
		}
		typ := strings.Join(strings.Split(key, ".")[:len(strings.Split(key, "."))-1], ".")
		s, err := loadTFSchema(lib, typ)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		name := strings.TrimPrefix(typ, "data.")
		for _, arg := range tfNewerThanSchema[name] {
			if _, ok := s.args[arg]; ok {
				errs = append(errs, fmt.Sprintf("%s: the schema now has %s: drop it from tfNewerThanSchema", key, arg))
			}
			s.args[arg] = false
		}
		check(key, cfg.blocks[key], s, true)
	}
	// Variables and outputs: Terraform's own arguments.
	lang := map[string]*tfSchema{
		"var.": {args: map[string]bool{"description": false, "type": false, "default": false, "sensitive": false, "nullable": false, "ephemeral": false},
			blocks: map[string]*tfSchema{"validation": {args: map[string]bool{"condition": true, "error_message": true}}}},
		"output.": {args: map[string]bool{"value": true, "description": false, "sensitive": false, "depends_on": false, "ephemeral": false},
			blocks: map[string]*tfSchema{"precondition": {args: map[string]bool{"condition": true, "error_message": true}}}},
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.blocks)) {
		for prefix, s := range lang {
			if strings.HasPrefix(key, prefix) {
				check(key, cfg.blocks[key], s, false)
			}
		}
	}
	slices.Sort(errs)
	return errs
}

func TestTerraformSchema(t *testing.T) {
	lib := filepath.Join(nodeModules(t, "@cdktf/provider-aws"), "lib")
	cfg := loadTerraform(t)
	if errs := tfCheck(lib, cfg); len(errs) > 0 {
		t.Errorf("terraform/*.tf against @cdktf/provider-aws's schema:\n%s", strings.Join(errs, "\n"))
	}
	// The schema reader must find what it checks against.
	s, err := loadTFSchema(lib, "aws_dynamodb_table")
	if err != nil {
		t.Fatal(err)
	}
	if !s.args["name"] || s.blocks["attribute"] == nil || s.blocks["ttl"] == nil || s.blocks["ttl"].args["attribute_name"] {
		t.Fatalf("aws_dynamodb_table schema read wrongly: name required %v, blocks %v", s.args["name"], slices.Sorted(maps.Keys(s.blocks)))
	}

	// Each mistake below, made in a fresh parse of the files, must be
	// reported.
	mutations := []struct {
		name string
		edit func(cfg tfConfig)
		want string
	}{
		{"typo in an argument", func(cfg tfConfig) {
			b := cfg.block(t, "aws_dynamodb_table.counter")
			b.Attributes["billing_mod"] = b.Attributes["billing_mode"]
			delete(b.Attributes, "billing_mode")
		}, "aws_dynamodb_table.counter: unknown argument billing_mod"},
		{"typo in a nested block's argument", func(cfg tfConfig) {
			ttl := child(t, cfg.block(t, "aws_dynamodb_table.counter"), "ttl")
			ttl.Attributes["attribute"] = ttl.Attributes["attribute_name"]
			delete(ttl.Attributes, "attribute_name")
		}, "aws_dynamodb_table.counter.ttl: unknown argument attribute"},
		{"typo in a block type", func(cfg tfConfig) {
			for _, b := range cfg.block(t, "aws_lambda_function.counter").Blocks {
				if b.Type == "environment" {
					b.Type = "environmen"
				}
			}
		}, "aws_lambda_function.counter: unknown block environmen"},
		{"missing required argument", func(cfg tfConfig) {
			delete(cfg.block(t, "aws_lambda_function_url.counter").Attributes, "authorization_type")
		}, "aws_lambda_function_url.counter: missing required argument authorization_type"},
		{"unknown resource type", func(cfg tfConfig) {
			cfg.blocks["aws_lambda_functionurl.counter"] = cfg.blocks["aws_lambda_function_url.counter"]
		}, "aws_lambda_functionurl.counter: unknown aws_lambda_functionurl"},
		{"typo in a variable", func(cfg tfConfig) {
			b := cfg.block(t, "var.table_name")
			b.Attributes["deflt"] = b.Attributes["default"]
			delete(b.Attributes, "default")
		}, "var.table_name: unknown argument deflt"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			cfg := loadTerraform(t) // a fresh parse
			m.edit(cfg)
			errs := tfCheck(lib, cfg)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, m.want) }) {
				t.Errorf("not reported: want an error containing %q, got %q", m.want, errs)
			}
		})
	}
}
