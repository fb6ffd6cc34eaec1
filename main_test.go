package counter_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// dynamoExamples are the examples that call DynamoDB through the SDK's
// default configuration, as a user's program does; the tests point that
// configuration at dynalite.
const dynamoExamples = "^(ExampleNewDynamo|ExampleNewGroup)$"

// TestMain readies dynalite for the DynamoDB examples. Examples cannot
// skip: without dynalite they are left out with a message (under CI=true
// the run fails instead).
func TestMain(m *testing.M) {
	flag.Parse()
	if err := testenv.ExampleDynamo(counter.DefaultTable); err != nil {
		if testenv.CI() {
			fmt.Fprintf(os.Stderr, "dynalite for the DynamoDB examples: %v (CI=true: a missing server is a failure)\n", err)
			os.Exit(1)
		}
		fmt.Printf("skipping %s: dynalite: %v; run `%s` to install it and run every test\n", dynamoExamples, err, testenv.TestCommand)
		skip := dynamoExamples
		if cur := flag.Lookup("test.skip").Value.String(); cur != "" {
			skip = cur + "|" + skip
		}
		if err := flag.Set("test.skip", skip); err != nil {
			panic(err)
		}
	}
	testenv.Main(m)
}
