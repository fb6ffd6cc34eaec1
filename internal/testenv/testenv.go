// Package testenv starts and finds the real servers the tests talk to:
// dynalite for DynamoDB, the Lambda Runtime Interface Emulator and Chromium.
// Without one, a test skips with the command that installs it; under CI=true
// it fails instead.
package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestCommand is what a developer runs to install and start everything.
const TestCommand = "bash scripts/test.sh"

// CI reports whether the tests run in CI, where a missing server fails.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI=true, because what is absent.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s (CI=true: a missing server is a failure)", what)
	}
	tb.Skipf("%s; run `%s` to install it and run every test", what, TestCommand)
}

// Root returns the module's root directory.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.HasPrefix(string(b), "module github.com/resumecounter/counter\n") {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testenv: module root not found")
		}
		dir = parent
	}
}

var dynalite struct {
	once     sync.Once
	endpoint string
	err      error
	stdin    any // kept open (and from the garbage collector) while the process lives
}

// DynaliteEndpoint returns the URL of a dynalite server shared by the test
// binary, starting it on first use. COUNTER_TEST_DYNAMODB names a running
// server instead.
func DynaliteEndpoint(tb testing.TB) string {
	tb.Helper()
	ep, err := sharedDynalite(Root(tb))
	if err != nil {
		Missing(tb, "dynalite: "+err.Error())
	}
	return ep
}

// sharedDynalite starts the binary's dynalite once (root is the module's
// root directory) and returns its URL.
func sharedDynalite(root string) (string, error) {
	if ep := os.Getenv("COUNTER_TEST_DYNAMODB"); ep != "" {
		return ep, nil
	}
	dynalite.once.Do(func() {
		dynalite.endpoint, dynalite.err = startDynalite(root)
	})
	return dynalite.endpoint, dynalite.err
}

// ExampleDynamo readies the shared dynalite for Example functions, which
// cannot skip: it makes a fresh table named table (replacing one left by an
// earlier run on a shared server) and points the AWS SDK's default
// configuration at the server through the process's environment
// (AWS_ENDPOINT_URL_DYNAMODB, a region, test credentials, no profile
// files), as a user's environment points it at AWS. Call it from TestMain
// before m.Run; an error means the examples cannot run.
func ExampleDynamo(table string) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	root := ""
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/resumecounter/counter\n") {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			return fmt.Errorf("module root not found above %s", dir)
		}
	}
	ep, err := sharedDynalite(root)
	if err != nil {
		return err
	}
	client := DynamoClient(ep)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("delete table %s: %w", table, err)
		}
	} else if err := dynamodb.NewTableNotExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second); err != nil {
		return fmt.Errorf("wait for table %s to go: %w", table, err)
	}
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay = 10 * time.Millisecond
			o.MaxDelay = 100 * time.Millisecond
		}); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	none := filepath.Join(os.TempDir(), "counter-testenv-no-aws-profile")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":   ep,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

func startDynalite(root string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found")
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "dynalite")); err != nil {
		return "", fmt.Errorf("npm package not installed (node_modules/dynalite)")
	}
	cmd := exec.Command(node, filepath.Join(root, "internal", "testenv", "dynalite.cjs"))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // closed by the OS when the test binary exits; dynalite then exits
	if err != nil {
		return "", err
	}
	dynalite.stdin = stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			select {
			case lines <- s.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		port, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			return "", fmt.Errorf("unexpected output %q", line)
		}
		return "http://127.0.0.1:" + port, nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("did not start within 15s")
	}
}

// DynamoClient returns an SDK client for endpoint with static test
// credentials. optFns adjust the client's options (retries, HTTP client).
func DynamoClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, optFns...)
}

// Dynalite returns a client for the shared dynalite server.
func Dynalite(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	return DynamoClient(DynaliteEndpoint(tb), optFns...)
}

var tableSeq atomic.Int64

// CreateTable creates a fresh table with string partition key pk and returns
// its name, unique within the process. It is deleted when the test ends.
func CreateTable(tb testing.TB, client *dynamodb.Client, pk string) string {
	tb.Helper()
	name := fmt.Sprintf("t%d-%d-%s", os.Getpid(), tableSeq.Add(1), sanitize(tb.Name()))
	if len(name) > 255 {
		name = name[:255]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		tb.Fatalf("create table %s: %v", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 20*time.Second,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay = 10 * time.Millisecond
			o.MaxDelay = 100 * time.Millisecond
		}); err != nil {
		tb.Fatalf("wait for table %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// HungEndpoint returns the URL of a server that accepts connections and
// never answers, as a stuck DynamoDB endpoint would. Its connections close
// when the test ends.
func HungEndpoint(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}
