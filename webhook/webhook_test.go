package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, body, now := []byte("s3cret"), []byte(`{"event":"promoted"}`), time.Unix(1_800_000_000, 0)
	sig := Sign(secret, now, body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q: want sha256= and 64 hex digits", sig)
	}
	ts := "1800000000"
	if err := Verify(secret, ts, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"another body":   Verify(secret, ts, sig, []byte(`{"event":"rolled_back"}`), now, 5*time.Minute),
		"another secret": Verify([]byte("other"), ts, sig, body, now, 5*time.Minute),
		"another time":   Verify(secret, "1800000001", sig, body, now, 5*time.Minute),
		"too old":        Verify(secret, ts, sig, body, now.Add(time.Hour), 5*time.Minute),
		"not a number":   Verify(secret, "yesterday", sig, body, now, 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified, want a refusal", name)
		}
	}
}

func TestPostClassifiesAnswersAndHidesTheURLsPath(t *testing.T) {
	var got http.Header
	var gotBody []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotBody = r.Header.Clone(), must(io.ReadAll(r.Body))
		w.WriteHeader(status)
		io.WriteString(w, "nope")
	}))
	defer srv.Close()
	url := srv.URL + "/services/T0/B0/SECRETTOKEN"
	now := time.Unix(1_800_000_000, 0)
	if err := Post(context.Background(), srv.Client(), url, "k1", []byte("s"), []byte(`{}`), now); err != nil {
		t.Fatal(err)
	}
	if got.Get(HeaderIdempotency) != "k1" || got.Get(HeaderTimestamp) != "1800000000" || got.Get("Content-Type") != "application/json" ||
		Verify([]byte("s"), got.Get(HeaderTimestamp), got.Get(HeaderSignature), gotBody, now, time.Minute) != nil {
		t.Errorf("headers %v: want the key, the timestamp and a signature that verifies", got)
	}
	for code, retry := range map[int]bool{400: false, 404: false, 408: true, 429: true, 500: true, 503: true} {
		status = code
		err := Post(context.Background(), srv.Client(), url, "k", nil, []byte(`{}`), now)
		var we *Error
		if !errors.As(err, &we) || we.Retry != retry || we.Status != code {
			t.Errorf("%d: %v, want retry=%v", code, err, retry)
		}
		if strings.Contains(err.Error(), "SECRETTOKEN") {
			t.Errorf("%d: %q shows the URL's path", code, err)
		}
	}
	srv.Close()
	err := Post(context.Background(), http.DefaultClient, url, "k", nil, []byte(`{}`), now)
	var we *Error
	if !errors.As(err, &we) || !we.Retry || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("a closed server: %v, want a retryable error without the URL's path", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
