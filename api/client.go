package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/operator"
)

// Client calls the HTTP API as one identity: the CLI's way to answer
// approvals and list them.
type Client struct {
	Credentials access.Credentials
	HTTP        *http.Client
}

// Answer is the API's reply to an accepted answer (POST
// /v1/passes/{id}/approval), as the server writes it and the client reads it.
type Answer struct {
	ID        string `json:"id"`
	Approver  string `json:"approver"`
	Decision  string `json:"decision"`
	Approvals int    `json:"approvals"`
	Quorum    int    `json:"quorum"`
}

// Decide answers pass id's approval request as the client's identity.
func (c Client) Decide(ctx context.Context, id string, approved bool, reason string) (Answer, error) {
	var a Answer
	body, _ := json.Marshal(map[string]any{"approved": approved, "reason": reason})
	err := c.do(ctx, http.MethodPost, "/v1/passes/"+escapePath(id)+"/approval", body, &a)
	return a, err
}

// Approvals lists the passes waiting for an approval.
func (c Client) Approvals(ctx context.Context) ([]operator.Waiting, error) {
	var rows []operator.Waiting
	err := c.do(ctx, http.MethodGet, "/v1/approvals", nil, &rows)
	return rows, err
}

// escapePath escapes each segment of a pass ID, keeping its slashes.
func escapePath(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (c Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	base := strings.TrimSuffix(c.Credentials.URL, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("HTTP API %s: %w", base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(c.Credentials.User, c.Credentials.Password)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("HTTP API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("HTTP API %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("HTTP API %s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("HTTP API %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}
