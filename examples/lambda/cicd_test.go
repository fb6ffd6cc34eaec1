package main

// Offline checks of the deploy pipeline: cicd/deploy-role.yaml against the
// same CloudFormation schema as template.yaml, its permissions against
// least-privilege rules, and the workflows' use of the role. actionlint
// checks the workflows' syntax and expressions in scripts/test.sh.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func loadCFN(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cfnValue(t, &doc).(map[string]any)
}

func TestDeployRoleSchema(t *testing.T) {
	spec := loadCFNSpec(t)
	tpl := loadCFN(t, filepath.Join("cicd", "deploy-role.yaml"))
	if errs := spec.checkTemplate(tpl); len(errs) > 0 {
		t.Errorf("cicd/deploy-role.yaml against the CloudFormation spec:\n%s", strings.Join(errs, "\n"))
	}
	// A misspelt property must be reported.
	role := get(t, tpl, "Resources", "DeployRole", "Properties").(map[string]any)
	role["MaxSessionDurationSeconds"] = role["MaxSessionDuration"]
	delete(role, "MaxSessionDuration")
	if errs := spec.checkTemplate(tpl); !strings.Contains(strings.Join(errs, "\n"), "MaxSessionDurationSeconds") {
		t.Errorf("a misspelt role property went unreported: %v", errs)
	}
}

// strs returns v as a list of strings: a string, a list, or an intrinsic
// (Fn::Sub's template, Fn::GetAtt's name) rendered as text.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, strs(e)...)
		}
		return out
	case map[string]any:
		for k, e := range v {
			return []string{k + ":" + fmt.Sprint(e)}
		}
	}
	return nil
}

// policyProblems lists what breaks least privilege in a role's statements:
// a wildcard action, a resource of "*", an Allow of a whole service.
func policyProblems(statements []any) []string {
	var out []string
	for i, s := range statements {
		st, _ := s.(map[string]any)
		id := fmt.Sprintf("statement %d (%v)", i, st["Sid"])
		if st["Effect"] != "Allow" {
			continue
		}
		if st["NotAction"] != nil || st["NotResource"] != nil {
			out = append(out, id+": NotAction or NotResource")
		}
		for _, a := range strs(st["Action"]) {
			if strings.Contains(a, "*") {
				out = append(out, id+": wildcard action "+a)
			}
		}
		res := strs(st["Resource"])
		if len(res) == 0 {
			out = append(out, id+": no resource")
		}
		for _, r := range res {
			if r == "*" || strings.HasSuffix(r, ":*") {
				out = append(out, id+": resource "+r)
			}
		}
	}
	return out
}

func TestDeployRolePolicy(t *testing.T) {
	tpl := loadCFN(t, filepath.Join("cicd", "deploy-role.yaml"))
	trust := get(t, tpl, "Resources", "DeployRole", "Properties", "AssumeRolePolicyDocument", "Statement").([]any)
	if len(trust) != 1 {
		t.Fatalf("trust policy: %d statements; want 1", len(trust))
	}
	st := trust[0].(map[string]any)
	if st["Action"] != "sts:AssumeRoleWithWebIdentity" {
		t.Errorf("trust action %v; want sts:AssumeRoleWithWebIdentity only", st["Action"])
	}
	cond := get(t, st, "Condition", "StringEquals").(map[string]any)
	if cond["token.actions.githubusercontent.com:aud"] != "sts.amazonaws.com" {
		t.Errorf("trust: audience %v; want sts.amazonaws.com", cond["token.actions.githubusercontent.com:aud"])
	}
	sub := strs(cond["token.actions.githubusercontent.com:sub"])
	if len(sub) != 1 || !strings.Contains(sub[0], "repo:${GitHubRepo}:environment:${DeployEnvironment}") || strings.Contains(sub[0], "*") {
		t.Errorf("trust: subject %v; want exactly one repository's deploy environment, no wildcard", sub)
	}
	if get(t, tpl, "Resources", "DeployRole", "Properties", "MaxSessionDuration") != 3600 {
		t.Errorf("session longer than an hour")
	}

	policies := get(t, tpl, "Resources", "DeployRole", "Properties", "Policies").([]any)
	if len(policies) != 1 {
		t.Fatalf("%d inline policies; want 1", len(policies))
	}
	statements := get(t, policies[0], "PolicyDocument", "Statement").([]any)
	if p := policyProblems(statements); len(p) > 0 {
		t.Errorf("the deploy role is broader than a deploy needs:\n%s", strings.Join(p, "\n"))
	}
	for _, s := range statements {
		for _, a := range strs(s.(map[string]any)["Action"]) {
			switch {
			case a == "dynamodb:DeleteTable", strings.HasPrefix(a, "dynamodb:") && (strings.Contains(a, "Item") || strings.Contains(a, "Query") || strings.Contains(a, "Scan")):
				t.Errorf("the deploy role may %s: counts are neither read nor deleted by a deploy", a)
			case a == "iam:PassRole" && s.(map[string]any)["Condition"] == nil:
				t.Errorf("iam:PassRole without an iam:PassedToService condition")
			case a == "iam:AttachRolePolicy" && s.(map[string]any)["Condition"] == nil:
				t.Errorf("iam:AttachRolePolicy without an iam:PolicyARN condition")
			}
		}
	}

	// The checker itself: each broadening below must be reported.
	for _, bad := range []map[string]any{
		{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:us-east-1:1:function:counter"},
		{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
		{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"},
	} {
		if p := policyProblems([]any{bad}); len(p) == 0 {
			t.Errorf("policyProblems missed %v", bad)
		}
	}
}

// TestWorkflows: only the deploy jobs get an OIDC token, in the environment
// the role trusts, and no workflow uses stored AWS keys.
func TestWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(".github", "workflows", "*.yml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("workflows: %v %v; want sam.yml and terraform.yml", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "secrets.AWS"} {
			if strings.Contains(string(b), banned) {
				t.Errorf("%s uses stored keys (%s)", f, banned)
			}
		}
		var wf struct {
			Permissions map[string]string `yaml:"permissions"`
			Jobs        map[string]struct {
				Environment string            `yaml:"environment"`
				If          string            `yaml:"if"`
				Permissions map[string]string `yaml:"permissions"`
				Steps       []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if wf.Permissions["id-token"] != "" || wf.Permissions["contents"] != "read" {
			t.Errorf("%s: workflow permissions %v; want contents: read only", f, wf.Permissions)
		}
		deploys := 0
		for name, job := range wf.Jobs {
			assumes := false
			for _, s := range job.Steps {
				if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
					assumes = true
					if s.With["role-to-assume"] != "${{ vars.AWS_DEPLOY_ROLE_ARN }}" {
						t.Errorf("%s: %s assumes %q", f, name, s.With["role-to-assume"])
					}
				}
			}
			if job.Permissions["id-token"] == "write" != assumes {
				t.Errorf("%s: job %s: id-token %q, assumes the role: %v", f, name, job.Permissions["id-token"], assumes)
			}
			if assumes {
				deploys++
				if job.Environment != "production" || !strings.Contains(job.If, "refs/heads/main") {
					t.Errorf("%s: job %s deploys outside the production environment or main (%q, %q)", f, name, job.Environment, job.If)
				}
			}
		}
		if deploys != 1 {
			t.Errorf("%s: %d deploy jobs; want 1", f, deploys)
		}
	}
}
