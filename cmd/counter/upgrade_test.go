package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/redis/go-redis/v9"

	"github.com/resumecounter/counter"
	"github.com/resumecounter/counter/internal/testenv"
)

// upgradeFixtures are stores written by earlier releases' counter serve, in
// testdata/upgrade, with the export that release printed of them: bolt and
// SQLite files (gzipped), a pg_dump of the PostgreSQL tables, Redis's keys
// as JSON lines (see loadRedis), DynamoDB's items in DynamoDB JSON (see
// loadDynamo). r1 is commit
// 28c6f07, the first counter serve ("Merge cli"): it counted home three
// times (two visitors) and blog once (with a visit id), then stopped. The
// formats have not changed since, so there is no migration yet; a release
// that changes one adds its fixtures here, and a test that the migration
// runs once from each older one.
var upgradeFixtures = []struct {
	release, store, file, export string
	// load puts file into a new file or server and returns the
	// environment that points counter at it.
	load func(t *testing.T, store, file string) []string
}{
	{"r1", "bolt", "r1.bolt.db.gz", "r1.export.jsonl", loadFile},
	{"r1", "sqlite", "r1.sqlite.gz", "r1.export.jsonl", loadFile},
	{"r1", "postgres", "r1.postgres.sql", "r1.export.jsonl", loadPostgres},
	{"r1", "redis", "r1.redis.jsonl", "r1.export.jsonl", loadRedis},
	{"r1", "dynamodb", "r1.dynamodb.jsonl", "r1.export.jsonl", loadDynamo},
}

// TestUpgrade opens each older release's store file with this release:
// the export is what that release printed, and the server keeps counting.
func TestUpgrade(t *testing.T) {
	for _, fx := range upgradeFixtures {
		t.Run(fx.release+"/"+fx.store, func(t *testing.T) {
			env := fx.load(t, fx.store, filepath.Join("testdata", "upgrade", fx.file))
			want, err := os.ReadFile(filepath.Join("testdata", "upgrade", fx.export))
			if err != nil {
				t.Fatal(err)
			}
			if out, errOut, code := runBinary(t, env, "", "export"); code != 0 || out != string(want) {
				t.Fatalf("export of the %s file: exit %d, %s\n%s\nwant\n%s", fx.release, code, errOut, out, want)
			}

			s := start(t, env...)
			if res, _ := get(t, s.URL+"/readyz"); res.StatusCode != http.StatusOK {
				t.Fatalf("readyz over the %s file: %s", fx.release, res.Status)
			}
			got := getJSONWith(t, s.URL+"/api/home", http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 Upgrade"}})
			if got.Count != 4 {
				t.Fatalf("home after one more visit: %d; want 4", got.Count)
			}
			if got := getJSONWith(t, s.URL+"/api/blog?visit=upgraded", nil); got.Count != 2 {
				t.Fatalf("blog after a visit: %d; want 2", got.Count)
			}
			s.stop(t, 20*time.Second)

			out, errOut, code := runBinary(t, env, "", "export")
			if code != 0 {
				t.Fatalf("export after counting: exit %d, %s", code, errOut)
			}
			records := parseExport(t, out)
			if len(records) != 2 || records[0].Key != "blog" || records[0].Count != 2 || records[1].Key != "home" ||
				records[1].Count != 4 || records[1].Visitors != 3 {
				t.Fatalf("after counting on: %+v; want blog 2, home 4 with 3 visitors", records)
			}
			if first := records[1].Days[0]; first.Date != "2026-12-03" || first.Count < 3 {
				t.Fatalf("home's first day after the upgrade: %+v; want the fixture's 2026-12-03 kept", first)
			}
		})
	}
}

// loadFile gunzips a bolt or SQLite file into a temp dir.
func loadFile(t *testing.T, store, file string) []string {
	data := filepath.Join(t.TempDir(), "counter-"+store)
	gunzip(t, file, data)
	return []string{"COUNTER_STORE=" + store, "COUNTER_DATA=" + data}
}

// loadPostgres restores a plain pg_dump into a new PostgreSQL server with
// psql, as an operator restores a backup.
func loadPostgres(t *testing.T, _, file string) []string {
	url := testenv.PostgresURLOf(testenv.NewPostgres(t))
	psql := exec.Command(filepath.Join(testenv.PostgresBin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file)
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", file, err, out)
	}
	return []string{"COUNTER_STORE=postgres", "COUNTER_DATABASE_URL=" + url}
}

// redisEntry is one key of a Redis fixture, a JSON line: a string value
// ("string", or "bytes" in base64 where it is not UTF-8) or a hash, and the
// key's expiry as Redis's PEXPIRETIME gave it (Unix milliseconds; absent:
// none).
type redisEntry struct {
	Key        string            `json:"key"`
	String     *string           `json:"string"`
	Bytes      []byte            `json:"bytes"`
	Hash       map[string]string `json:"hash"`
	ExpireAtMs int64             `json:"expireAtMs"`
}

// loadRedis writes a Redis fixture's keys into a new Redis server with
// go-redis. Keys expire at the time they had: one already past is gone, as
// on a server that kept running.
func loadRedis(t *testing.T, _, file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.NewRedis(t).Addr()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx := t.Context()
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e redisEntry
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s:%d: %v", file, i+1, err)
		}
		switch {
		case e.String != nil:
			err = client.Set(ctx, e.Key, *e.String, 0).Err()
		case e.Bytes != nil:
			err = client.Set(ctx, e.Key, e.Bytes, 0).Err()
		case len(e.Hash) > 0:
			err = client.HSet(ctx, e.Key, e.Hash).Err()
		default:
			t.Fatalf("%s:%d: key %s has no value", file, i+1, e.Key)
		}
		if err == nil && e.ExpireAtMs > 0 {
			err = client.PExpireAt(ctx, e.Key, time.UnixMilli(e.ExpireAtMs)).Err()
		}
		if err != nil {
			t.Fatalf("%s:%d: writing %s: %v", file, i+1, e.Key, err)
		}
	}
	return []string{"COUNTER_STORE=redis", "COUNTER_REDIS_URL=redis://" + addr + "/0"}
}

// loadDynamo puts a DynamoDB fixture's items, one per line in DynamoDB
// JSON (as a Scan answers), into a new table in dynalite with PutItem.
func loadDynamo(t *testing.T, _, file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testenv.DynaliteEndpoint(t)
	client := testenv.DynamoClient(endpoint)
	table := testenv.CreateTable(t, client, counter.DefaultPartitionKey)
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("%s:%d: %v", file, i+1, err)
		}
		item := make(map[string]types.AttributeValue, len(raw))
		for name, v := range raw {
			if item[name], err = attributeValue(v); err != nil {
				t.Fatalf("%s:%d: attribute %s: %v", file, i+1, name, err)
			}
		}
		if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatalf("%s:%d: PutItem: %v", file, i+1, err)
		}
	}
	return awsEnv(endpoint, table)
}

// attributeValue reads one attribute value in DynamoDB JSON: {"S": "…"},
// {"N": "…"}, {"B": base64}, {"BOOL": …}, {"NULL": true}, {"M": {…}} or
// {"L": […]}.
func attributeValue(raw json.RawMessage) (types.AttributeValue, error) {
	var v struct {
		S    *string
		N    *string
		B    []byte
		BOOL *bool
		NULL *bool
		M    map[string]json.RawMessage
		L    []json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch {
	case v.S != nil:
		return &types.AttributeValueMemberS{Value: *v.S}, nil
	case v.N != nil:
		return &types.AttributeValueMemberN{Value: *v.N}, nil
	case v.B != nil:
		return &types.AttributeValueMemberB{Value: v.B}, nil
	case v.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *v.BOOL}, nil
	case v.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: *v.NULL}, nil
	case v.M != nil:
		m := make(map[string]types.AttributeValue, len(v.M))
		for name, e := range v.M {
			av, err := attributeValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			m[name] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case v.L != nil:
		l := make([]types.AttributeValue, len(v.L))
		for i, e := range v.L {
			av, err := attributeValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("%s: want one of S, N, B, BOOL, NULL, M, L", raw)
}

// gunzip writes the gzipped file src to dst.
func gunzip(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
