package conf

import (
	"reflect"
	"testing"
	"time"
)

func TestMongo(t *testing.T) {
	c, err := Load("testdata/mongo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := c.Pools["users"]
	if u.Kind != KindMongo || u.Database != "app" || u.Timeout.D() != 300*time.Millisecond || u.MaxConns != 8 {
		t.Errorf("users pool: %+v", u)
	}
	if got := u.ShardURIs(); !reflect.DeepEqual(got, []string{"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27018/?replicaSet=rs1"}) {
		t.Errorf("shards %q", got)
	}
	l := c.Pools["logs"]
	if l.Timeout.D() != time.Second || l.MaxConns != 32 || l.MaxBytes != 0 {
		t.Errorf("logs pool defaults: %+v", l)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

// Each invalid mongo fixture is refused with an error naming its field.
func TestMongoInvalid(t *testing.T) {
	want := map[string]string{
		"no_shards.yaml":          "pools.users.shards:",
		"shard_gap.yaml":          "pools.users.shards.1: missing",
		"bad_uri.yaml":            "pools.users.shards.0:",
		"no_database.yaml":        "pools.users.database:",
		"bad_database.yaml":       "pools.users.database:",
		"bad_max_conns.yaml":      "pools.users.max_conns:",
		"bad_timeout.yaml":        "pools.users.timeout:",
		"with_servers.yaml":       "pools.users: a mongo pool has shards, database, timeout and max_conns only",
		"database_not_mongo.yaml": "pools.users: shards, database and max_conns belong to mongo pools",
		"routed.yaml":             "routes[0].pool:",
		"default_pool.yaml":       "pools.default.kind:",
	}
	refused(t, "testdata/invalid-mongo", want)
}
