package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/boltstore"
	"github.com/resumecounter/counter/pgstore"
	"github.com/resumecounter/counter/redisstore"
	"github.com/resumecounter/counter/sqlitestore"
)

// stores lists the values of COUNTER_STORE; the first is the default. A
// store is added with one entry: its name, the variables it reads (for -h)
// and a function opening it from them.
var stores = []storeKind{
	{"bolt", []string{"COUNTER_DATA: the bbolt file (default ./counter.db)"}, openBolt},
	{"memory", []string{"counts live in the server process (counter serve only)"}, openMemory},
	{"dynamodb", []string{"COUNTER_TABLE: the table (default " + counter.DefaultTable + ")",
		"COUNTER_COUNT_ATTRIBUTE: the number attribute holding counts (default " + counter.DefaultCountAttribute + ")",
		"AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,",
		"AWS_ENDPOINT_URL_DYNAMODB and the AWS SDK's other variables"}, openDynamo},
	{"postgres", []string{"COUNTER_DATABASE_URL: postgres://user@host:5432/db?sslmode=disable",
		"(the tables are created on first use; see docs/stores-servers.md)"}, openPostgres},
	{"redis", []string{"COUNTER_REDIS_URL: redis://host:6379/0, or a Redis Cluster as",
		"redis://host:7000?addr=host:7001&addr=host:7002"}, openRedis},
	{"sqlite", []string{"COUNTER_DATA: the SQLite file (default ./counter.sqlite)"}, openSQLite},
}

// storeKind is one value of COUNTER_STORE.
type storeKind struct {
	name string
	vars []string // the variables it reads, one line each
	open func(ctx context.Context, cfg storeConfig) (*openStore, error)
}

// storeConfig is what opening a store may use.
type storeConfig struct {
	getenv func(string) string
	log    *slog.Logger
	// maxKeys caps the keys of stores with a cap (COUNTER_MAX_KEYS); 0: no cap.
	maxKeys int
	// serving is true for counter serve, false for the owner's commands.
	serving bool
	// create allows creating a store that does not exist yet (counter
	// serve, set and import); get and export need an existing one.
	create bool
}

// openStore is an open store. store implements counter.Incrementer and
// counter.Reader, and counter.Editor, counter.KeyLister, counter.VisitStore
// and counter.HistoryReader where the store can.
type openStore struct {
	store any
	desc  string // for messages: "bbolt file counter.db"
	close func() error
}

// Close closes the store once; later calls return nil.
func (o *openStore) Close() error {
	if o.close == nil {
		return nil
	}
	c := o.close
	o.close = nil
	return c()
}

// openFromEnv opens the store that COUNTER_STORE names.
func openFromEnv(ctx context.Context, cfg storeConfig) (*openStore, error) {
	name := strings.TrimSpace(cfg.getenv("COUNTER_STORE"))
	for _, k := range stores {
		if name == k.name || name == "" && k.name == stores[0].name {
			return k.open(ctx, cfg)
		}
	}
	names := make([]string, len(stores))
	for i, k := range stores {
		names[i] = k.name
	}
	names[0] += " (the default)"
	return nil, fmt.Errorf("COUNTER_STORE=%s: want %s", name, strings.Join(names, ", "))
}

// storeHelp describes COUNTER_STORE and each store's variables, for -h.
func storeHelp() string {
	var b strings.Builder
	b.WriteString("The store comes from the environment:\n")
	names := make([]string, len(stores))
	for i, k := range stores {
		names[i] = k.name
	}
	fmt.Fprintf(&b, "  COUNTER_STORE: %s (default %s)\n", strings.Join(names, ", "), stores[0].name)
	for _, k := range stores {
		fmt.Fprintf(&b, "  %s:\n", k.name)
		for _, v := range k.vars {
			fmt.Fprintf(&b, "    %s\n", v)
		}
	}
	b.WriteString("  COUNTER_MAX_KEYS: keys a bolt, SQLite or memory store takes (default 10000; 0: no cap)")
	return b.String()
}

// defaultMaxKeys caps the distinct keys of the bolt and memory stores unless
// COUNTER_MAX_KEYS says otherwise, so made-up keys cannot fill the disk or
// the memory.
const defaultMaxKeys = boltstore.DefaultMaxKeys

// maxKeysFromEnv reads COUNTER_MAX_KEYS: a number of keys, 0 for no cap.
func maxKeysFromEnv(getenv func(string) string) (int, error) {
	s := strings.TrimSpace(getenv("COUNTER_MAX_KEYS"))
	if s == "" {
		return defaultMaxKeys, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("COUNTER_MAX_KEYS=%s: want a number of keys (0: no cap)", s)
	}
	return n, nil
}

func openBolt(_ context.Context, cfg storeConfig) (*openStore, error) {
	path := cmp.Or(strings.TrimSpace(cfg.getenv("COUNTER_DATA")), "counter.db")
	if !cfg.serving && !cfg.create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no bbolt file %s: set COUNTER_DATA to the file counter serve uses", path)
		}
	}
	s, err := boltstore.Open(path, boltstore.Options{MaxKeys: cmp.Or(cfg.maxKeys, -1)})
	if err != nil {
		if !cfg.serving && errors.Is(err, bolterrors.ErrTimeout) { // another process holds the file
			return nil, fmt.Errorf("%w\n(a running counter serve holds the file: stop it, or use its admin routes, see COUNTER_ADMIN_TOKEN)", err)
		}
		return nil, err
	}
	attrs := []any{"path", path, "max_keys", cfg.maxKeys}
	// The number of keys, if the store says it cheaply.
	if n, ok := any(s).(interface{ NumKeys() (int, error) }); ok {
		if keys, err := n.NumKeys(); err == nil {
			attrs = append(attrs, "keys", keys)
		}
	}
	cfg.log.Info("store: bbolt file", attrs...)
	return &openStore{store: s, desc: "bbolt file " + path, close: s.Close}, nil
}

func openMemory(_ context.Context, cfg storeConfig) (*openStore, error) {
	if !cfg.serving {
		return nil, errors.New("COUNTER_STORE=memory: the counts live inside the counter serve process; " +
			"see or change them there through its admin routes (set COUNTER_ADMIN_TOKEN)")
	}
	cfg.log.Info("store: memory (counts are lost when the server stops)", "max_keys", cfg.maxKeys)
	return &openStore{store: counter.NewMemoryLimit(cfg.maxKeys), desc: "memory"}, nil
}

func openDynamo(ctx context.Context, cfg storeConfig) (*openStore, error) {
	// AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB and the rest.
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(awsCfg)
	table := cmp.Or(strings.TrimSpace(cfg.getenv("COUNTER_TABLE")), counter.DefaultTable)
	attr := cmp.Or(strings.TrimSpace(cfg.getenv("COUNTER_COUNT_ATTRIBUTE")), counter.DefaultCountAttribute)
	if attr == counter.DefaultPartitionKey || len(attr) > 255 {
		return nil, fmt.Errorf("COUNTER_COUNT_ATTRIBUTE=%s: want the name of the number attribute that holds the counts (default %s), not the key %s",
			attr, counter.DefaultCountAttribute, counter.DefaultPartitionKey)
	}
	if err := checkTable(ctx, client, table, awsCfg.Region); err != nil {
		return nil, err
	}
	cfg.log.Info("store: DynamoDB", "table", table, "region", awsCfg.Region, "count_attribute", attr)
	store := counter.NewDynamo(client, counter.DynamoOptions{Table: table, CountAttribute: attr})
	if cfg.serving {
		checkTTL(ctx, store, cfg.log)
	}
	return &openStore{store: store, desc: "DynamoDB table " + table}, nil
}

// checkTTL warns once at start when the table keeps visitor markers and
// salts forever (TTL off), or says how to check when the role may not ask
// (dynamodb:DescribeTimeToLive); see counter.Dynamo.LogTTL. It never stops
// the server: counting does not need TTL.
func checkTTL(ctx context.Context, store *counter.Dynamo, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = store.LogTTL(ctx, log)
}

// tableDescriber is the DynamoDB call checkTable makes.
type tableDescriber interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// checkTable fails at start, in one line, when the table is missing or its
// key is not what the store writes (a string partition key named id and no
// sort key), rather than at every request.
func checkTable(ctx context.Context, client tableDescriber, table, region string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("DynamoDB table %s not found in region %s: create it with string partition key %s, or set COUNTER_TABLE",
			table, region, counter.DefaultPartitionKey)
	case err != nil:
		return fmt.Errorf("DynamoDB table %s in region %s: %w", table, region, err)
	}
	want := fmt.Sprintf("the counter needs string (S) partition key %s and no sort key: create such a table, or set COUNTER_TABLE",
		counter.DefaultPartitionKey)
	var hash, sortKey string
	for _, k := range out.Table.KeySchema {
		name := deref(k.AttributeName)
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = name
		case types.KeyTypeRange:
			sortKey = name
		}
	}
	if hash != counter.DefaultPartitionKey {
		return fmt.Errorf("DynamoDB table %s has partition key %s; %s", table, hash, want)
	}
	var kind types.ScalarAttributeType
	for _, d := range out.Table.AttributeDefinitions {
		if deref(d.AttributeName) == hash {
			kind = d.AttributeType
		}
	}
	if kind != types.ScalarAttributeTypeS {
		return fmt.Errorf("DynamoDB table %s has partition key %s of type %s; %s", table, hash, cmp.Or(string(kind), "unknown"), want)
	}
	if sortKey != "" {
		return fmt.Errorf("DynamoDB table %s has sort key %s; %s", table, sortKey, want)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func openPostgres(ctx context.Context, cfg storeConfig) (*openStore, error) {
	url := strings.TrimSpace(cfg.getenv("COUNTER_DATABASE_URL"))
	if url == "" {
		return nil, errors.New("COUNTER_STORE=postgres needs COUNTER_DATABASE_URL, such as postgres://user@host:5432/db?sslmode=disable")
	}
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return nil, fmt.Errorf("COUNTER_DATABASE_URL: %w", err)
	}
	cfg.log.Info("store: PostgreSQL")
	return &openStore{store: s, desc: "PostgreSQL database", close: s.Close}, nil
}

func openRedis(ctx context.Context, cfg storeConfig) (*openStore, error) {
	url := strings.TrimSpace(cfg.getenv("COUNTER_REDIS_URL"))
	if url == "" {
		return nil, errors.New("COUNTER_STORE=redis needs COUNTER_REDIS_URL, such as redis://localhost:6379/0")
	}
	s, err := redisstore.Open(ctx, url, redisstore.Options{})
	if err != nil {
		return nil, fmt.Errorf("COUNTER_REDIS_URL: %w", err)
	}
	cfg.log.Info("store: Redis")
	return &openStore{store: s, desc: "Redis", close: s.Close}, nil
}

func openSQLite(_ context.Context, cfg storeConfig) (*openStore, error) {
	path := cmp.Or(strings.TrimSpace(cfg.getenv("COUNTER_DATA")), "counter.sqlite")
	if !cfg.serving && !cfg.create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no SQLite file %s: set COUNTER_DATA to the file counter serve uses", path)
		}
	}
	s, err := sqlitestore.Open(path, sqlitestore.Options{MaxKeys: cmp.Or(cfg.maxKeys, -1)})
	if err != nil {
		return nil, err
	}
	cfg.log.Info("store: SQLite file", "path", path, "max_keys", cfg.maxKeys)
	return &openStore{store: s, desc: "SQLite file " + path, close: s.Close}, nil
}
