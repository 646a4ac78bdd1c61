package webhooks

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The specification's published example: this secret, id, timestamp and
// payload sign to this value.
func TestSignatureMatchesTheSpecificationsExample(t *testing.T) {
	t.Parallel()
	got, err := signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

func TestNewSecretsVerifyWithTheReferenceLibrary(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 20 {
		secret := newSecret()
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 24 || seen[secret] {
			t.Fatalf("secret %q: want whsec_ and the base64 of 24+ fresh random bytes", secret)
		}
		seen[secret] = true
		now := time.Now().Unix()
		body := []byte(`{"type":"stock.changed","sku":"A"}`)
		sig, err := signature(secret, "42", now, body)
		if err != nil {
			t.Fatal(err)
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		h := http.Header{}
		h.Set("webhook-id", "42")
		h.Set("webhook-timestamp", strconv.FormatInt(now, 10))
		h.Set("webhook-signature", sig)
		if err := wh.Verify(body, h); err != nil {
			t.Fatalf("reference library refuses our signature: %v", err)
		}
		if err := wh.Verify(append(body, ' '), h); err == nil {
			t.Fatal("reference library accepts a signature of another body")
		}
	}
}
