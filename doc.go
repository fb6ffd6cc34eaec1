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
// For a hot key, a [Group] in front of a store folds concurrent increments
// into single writes, and [DynamoOptions.Shards] spreads a key over several
// items for many processes.
//
// Every store implements [Incrementer] (count a visit), [Reader] (read
// without counting) and [Adder] (add several visits in one write), and passes
// the conformance suite in package countertest.
package counter
