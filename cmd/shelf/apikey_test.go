package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/dbtest"
)

func TestAPIKeysAreShownOnceStoredHashedAndRevocable(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	env := envOf(map[string]string{"SHELF_MYSQL_DSN": d.DSN})
	shelf := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"apikey"}, args...), env, strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	secret, _, err := shelf("create", "--name", "ci-7", "--scopes", "imports:write,catalog:write")
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	other, _, _ := shelf("create", "--name", "1-ci", "--scopes", "catalog:write")
	other = strings.TrimSpace(other)
	if !strings.HasPrefix(secret, "shelf_") || len(secret) < 40 || secret == other {
		t.Fatalf("secret %q", secret)
	}
	var stored []byte
	if err := d.DB.QueryRow("SELECT key_hash FROM api_keys WHERE name = 'ci-7'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(secret)); !bytes.Equal(stored, sum[:]) {
		t.Error("the stored hash is not the SHA-256 of the secret")
	}
	var n int
	_ = d.DB.QueryRow("SELECT COUNT(*) FROM api_keys WHERE INSTR(CONCAT(name, prefix, scopes), ?) > 0", secret).Scan(&n)
	if n != 0 {
		t.Error("the secret is stored in clear")
	}
	list, _, err := shelf("list")
	if err != nil || strings.Contains(list, secret) || !strings.Contains(list, "ci-7") {
		t.Errorf("list: %v\n%s", err, list)
	}
	keys := auth.NewKeys(d.Store.Q)
	k, err := keys.Authenticate(context.Background(), secret)
	if err != nil || !k.Has(auth.ScopeImportsWrite) || k.Has(auth.ScopeOrdersRead) {
		t.Fatalf("authenticate: %v %+v", err, k)
	}
	// "1-ci" is a name, not id 1 (the first key): only that key is revoked.
	if _, _, err := shelf("revoke", "1-ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(context.Background(), other); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("revoked key still works: %v", err)
	}
	if _, err := keys.Authenticate(context.Background(), secret); err != nil {
		t.Errorf("revoking 1-ci revoked another key: %v", err)
	}
	if _, _, err := shelf("create", "--name", "x", "--scopes", "everything"); exitCode(err) != 2 {
		t.Errorf("unknown scope: exit %d", exitCode(err))
	}
}
