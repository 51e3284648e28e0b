package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/workflows"
)

// TestEveryRouteNeedsCredentialsAndItsRole calls every route of the API on
// a real server, behind exporter-toolkit, as nobody, with a wrong password,
// as an identity without the route's role, and as one with it: 401, 401,
// 403, then the route's own answer; a refused call changes nothing.
func TestEveryRouteNeedsCredentialsAndItsRole(t *testing.T) {
	const name = "e2e-routes"
	long := strings.Replace(apiTarget(name), "verify_for: 2s", "verify_for: 1h", 1)
	put := func(c *http.Client, target, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPut, apiServer.URL+"/v1/targets/"+target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	decode(t, put(apiHTTP, name, long), http.StatusCreated, nil)
	decode(t, put(apiHTTP, name+"-del", apiTarget(name+"-del")), http.StatusCreated, nil)
	registered := func(n string) bool {
		_, err := operator.TargetState(context.Background(), temporalClient, n)
		return err == nil
	}
	passes := func() int {
		st, err := operator.TargetState(context.Background(), temporalClient, name)
		if err != nil {
			t.Fatal(err)
		}
		return st.Passes
	}
	alert := webhookBody(t, amAlert{Status: "firing", Labels: map[string]string{"alertname": "NothingRoutesHere"},
		StartsAt: time.Now().Add(-time.Minute), Fingerprint: "f1"})
	var passID string

	routes := []struct {
		method, path, ctype, body string
		missing, right            string // an identity without the route's role, and one with it
		code                      int    // the route's own answer
		unchanged                 func() bool
		after                     func(*testing.T, []byte)
	}{
		{method: "GET", path: "/healthz", right: "am", code: 200},
		{method: "GET", path: "/metrics", missing: "am", right: "carol", code: 200},
		{method: "GET", path: "/v1/targets", missing: "am", right: "carol", code: 200},
		{method: "GET", path: "/v1/targets/" + name, missing: "am", right: "carol", code: 200},
		{method: "GET", path: "/v1/targets/" + name + "/history", missing: "am", right: "carol", code: 200},
		{method: "GET", path: "/v1/targets/" + name + "/audit", missing: "am", right: "carol", code: 200},
		{method: "GET", path: "/v1/approvals", missing: "am", right: "carol", code: 200},
		{method: "PUT", path: "/v1/targets/" + name + "-new", ctype: "application/yaml", body: apiTarget(name + "-new"),
			missing: "carol", right: "admin", code: 201, unchanged: func() bool { return !registered(name + "-new") }},
		{method: "POST", path: "/v1/targets/" + name + "/pause", missing: "carol", right: "admin", code: 200,
			unchanged: func() bool {
				st, _ := operator.TargetState(context.Background(), temporalClient, name)
				return !st.Paused
			}},
		{method: "POST", path: "/v1/targets/" + name + "/resume", missing: "carol", right: "admin", code: 200},
		{method: "POST", path: "/v1/targets/" + name + "/passes", missing: "carol", right: "admin", code: 202,
			unchanged: func() bool { return passes() == 0 },
			after: func(t *testing.T, b []byte) {
				var rep workflows.RequestReply
				if err := json.Unmarshal(b, &rep); err != nil || rep.PassID == "" {
					t.Fatalf("request reply %s: %v", b, err)
				}
				passID = rep.PassID
			}},
		{method: "POST", path: "/v1/alerts", ctype: "application/json", body: string(alert), missing: "carol", right: "am", code: 200},
		{method: "DELETE", path: "/v1/targets/" + name + "-del", missing: "carol", right: "admin", code: 202,
			unchanged: func() bool { return registered(name + "-del") }},
		{method: "GET", path: "/v1/passes/{pass}", missing: "am", right: "carol", code: 200},
		// The route lets an approver through; the pass, which is not
		// waiting, refuses the answer.
		{method: "POST", path: "/v1/passes/{pass}/approval", ctype: "application/json", body: `{"approved": true}`,
			missing: "carol", right: "alice", code: 409},
		{method: "POST", path: "/v1/passes/{pass}/cancel", missing: "carol", right: "admin", code: 202,
			unchanged: func() bool { ok, _ := operator.Running(context.Background(), temporalClient, passID); return ok }},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			path := strings.ReplaceAll(rt.path, "{pass}", passID)
			call := func(c *http.Client) (int, []byte) {
				req, _ := http.NewRequest(rt.method, apiServer.URL+path, bytes.NewReader([]byte(rt.body)))
				if rt.ctype != "" {
					req.Header.Set("Content-Type", rt.ctype)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, b
			}
			wrong := &http.Client{Transport: basicAuth{user: "admin", password: "not-the-password"}}
			for who, c := range map[string]*http.Client{"nobody": http.DefaultClient, "a wrong password": wrong} {
				if code, b := call(c); code != http.StatusUnauthorized {
					t.Errorf("as %s: %d %s, want 401", who, code, b)
				}
			}
			if rt.missing != "" {
				if code, b := call(as(rt.missing)); code != http.StatusForbidden {
					t.Errorf("as %s: %d %s, want 403", rt.missing, code, b)
				}
			}
			if rt.unchanged != nil && !rt.unchanged() {
				t.Fatalf("a refused %s %s changed something", rt.method, path)
			}
			code, b := call(as(rt.right))
			if code != rt.code {
				t.Fatalf("as %s: %d %s, want %d", rt.right, code, b, rt.code)
			}
			if rt.after != nil {
				rt.after(t, b)
			}
		})
	}
	if passID == "" {
		t.Fatal("no pass was requested")
	}
}
