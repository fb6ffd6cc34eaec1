// Package counter is an honest, fast visitor counter for websites: exact
// counts in memory or in Amazon DynamoDB, served as JSON for page scripts and
// as SVG badges for <img> tags and GitHub READMEs.
//
// A store counts visits per key. [Memory] keeps counts in the process;
// [Dynamo] keeps them in a DynamoDB table, one atomic UpdateItem per visit,
// compatible with the Cloud Resume Challenge schema (table
// cloud-resume-stats, key id, number attribute count):
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	if err != nil { ... }
//	store := counter.NewDynamo(dynamodb.NewFromConfig(cfg), counter.DynamoOptions{})
//	n, err := store.Increment(ctx, "visitors") // n includes this visit
//
// [JSONHandler] and [BadgeHandler] serve counts over HTTP: JSON for fetch
// (with an exact-match CORS allowlist) and shields-style SVG badges drawn by
// [Badge]. Package boltstore is a persistent store in one local file, and
// package lambdahttp runs the handlers in AWS Lambda behind a Function URL or
// an API Gateway HTTP API.
//
// For a hot key, a [Group] in front of a store folds concurrent increments
// into single writes, and [DynamoOptions.Shards] spreads a key over several
// items for many processes.
//
// Every store implements [Incrementer] (count a visit), [Reader] (read
// without counting) and [Adder] (add several visits in one write), and passes
// the conformance suite in package countertest.
package counter
