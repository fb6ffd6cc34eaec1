// Command redisdump prints every key of the Redis database at ADDR as JSON
// lines, the format of TestUpgrade's Redis fixtures: a string value as
// "string" (or "bytes", base64, where it is not UTF-8), a hash as "hash",
// and the key's expiry as PEXPIRETIME gives it ("expireAtMs", Unix
// milliseconds; absent: none). From cmd/counter:
//
//	go run ./testdata/upgrade/redisdump 127.0.0.1:6379 > testdata/upgrade/rN.redis.jsonl
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

type entry struct {
	Key        string            `json:"key"`
	String     *string           `json:"string,omitempty"`
	Bytes      []byte            `json:"bytes,omitempty"`
	Hash       map[string]string `json:"hash,omitempty"`
	ExpireAtMs int64             `json:"expireAtMs,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: redisdump HOST:PORT")
		os.Exit(2)
	}
	if err := dump(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "redisdump:", err)
		os.Exit(1)
	}
}

func dump(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		return err
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := entry{Key: k}
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v, err := c.Get(ctx, k).Result()
			if err != nil {
				return err
			}
			if utf8.ValidString(v) {
				e.String = &v
			} else {
				e.Bytes = []byte(v)
			}
		case "hash":
			if e.Hash, err = c.HGetAll(ctx, k).Result(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("key %s: type %q; the format holds strings and hashes", k, typ)
		}
		ms, err := c.Do(ctx, "PEXPIRETIME", k).Int64()
		if err != nil {
			return err
		}
		if ms > 0 {
			e.ExpireAtMs = ms
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}
