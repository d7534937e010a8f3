package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
)

// esaVersion is the version of ESA's API that serve answers.
const esaVersion = "2024-09-10"

// tasksClient calls ESA's delivery-task actions of a serve through ESA's Go SDK. Every action goes
// through the SDK's generic CallApi with the Params that the SDK's typed method of that action uses
// (Version 2024-09-10, path /, AuthType AK, Style RPC, form body, JSON answer; GET actions in the
// query, POST ones in the body), so requests are signed exactly as the typed calls sign them. The
// typed request models are not used: they lack the members serve takes besides ESA's (FilterRules
// in Create, the delivery objects in Update, the extension parameters, the local destination's
// SinkConfig), and the typed Get answer drops serve's Health.
type tasksClient struct {
	sdk  *esa.Client
	base string // http://host:port, for messages
}

// endpointURL reads --endpoint: host:port, or http(s)://host:port. It returns the base URL and the
// SDK's endpoint (host:port) and protocol.
func endpointURL(endpoint string) (base string, proto string, err error) {
	e := strings.TrimSpace(endpoint)
	proto = "HTTP"
	if i := strings.Index(e, "://"); i >= 0 {
		switch strings.ToLower(e[:i]) {
		case "http":
		case "https":
			proto = "HTTPS"
		default:
			return "", "", fmt.Errorf("--endpoint %q: the scheme must be http or https", endpoint)
		}
		e = e[i+3:]
	}
	e = strings.TrimSuffix(e, "/")
	u, perr := url.Parse("http://" + e)
	if e == "" || perr != nil || u.Host != e || u.Hostname() == "" {
		return "", "", fmt.Errorf("--endpoint %q: give host:port (such as 127.0.0.1:8080) or http://host:port", endpoint)
	}
	return strings.ToLower(proto) + "://" + e, proto, nil
}

func newTasksClient(endpoint string) (*tasksClient, error) {
	base, proto, err := endpointURL(endpoint)
	if err != nil {
		return nil, err
	}
	id, secret, err := keyPair()
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(base, strings.ToLower(proto)+"://")
	cl, err := esa.NewClient(&openapiutil.Config{
		AccessKeyId: dara.String(id), AccessKeySecret: dara.String(secret),
		Endpoint: dara.String(host), Protocol: dara.String(proto),
		ConnectTimeout: dara.Int(10_000), ReadTimeout: dara.Int(120_000), // ms; a Delete drains the task
	})
	if err != nil {
		return nil, fmt.Errorf("ESA SDK client: %v", err)
	}
	return &tasksClient{sdk: cl, base: base}, nil
}

// call runs an action with its parameters (in the query for GET actions, the form body for POST
// ones) and returns the answer's body.
func (c *tasksClient) call(action string, post bool, params map[string]string) (map[string]any, error) {
	req := &openapiutil.OpenApiRequest{}
	method := "GET"
	if post {
		method = "POST"
		body := make(map[string]any, len(params))
		for k, v := range params {
			body[k] = v
		}
		req.Body = openapiutil.ParseToMap(body)
	} else {
		q := make(map[string]*string, len(params))
		for k, v := range params {
			q[k] = dara.String(v)
		}
		req.Query = q
	}
	res, err := c.sdk.CallApi(&openapiutil.Params{
		Action: dara.String(action), Version: dara.String(esaVersion), Protocol: dara.String("HTTPS"),
		Pathname: dara.String("/"), Method: dara.String(method), AuthType: dara.String("AK"),
		Style: dara.String("RPC"), ReqBodyType: dara.String("formData"), BodyType: dara.String("json"),
	}, req, &dara.RuntimeOptions{})
	if err != nil {
		if ae := sdkAPIError(err); ae != nil {
			return nil, ae
		}
		return nil, fmt.Errorf("cannot reach esa-connect serve at %s: %v", c.base, err)
	}
	body, ok := res["body"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s answered %s without a JSON object", c.base, action)
	}
	return body, nil
}

// apiError is an error answer of the API: its Code and Message, printed as "Code: Message".
type apiError struct {
	Code, Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// sdkAPIError returns the Code and Message that the server answered, from an SDK error (*tea.SDKError
// or *dara.SDKError, whose Message the SDK decorates with the HTTP status and request id: the
// server's own Message is taken from its Data); nil when err is not an answer of the server.
func sdkAPIError(err error) *apiError {
	var code, msg, data string
	var te *tea.SDKError
	var de *dara.SDKError
	switch {
	case errors.As(err, &te):
		code, msg, data = tea.StringValue(te.Code), tea.StringValue(te.Message), tea.StringValue(te.Data)
	case errors.As(err, &de):
		code, msg, data = dara.StringValue(de.Code), dara.StringValue(de.Message), dara.StringValue(de.Data)
	default:
		return nil
	}
	if code == "" {
		return nil // not an answer: a network error wrapped by the SDK
	}
	var body map[string]any
	if json.Unmarshal([]byte(data), &body) == nil {
		if m, ok := body["Message"].(string); ok {
			return &apiError{Code: code, Message: m}
		}
	}
	// "code: 400, <message> request id: <id>"
	if _, rest, ok := strings.Cut(msg, ", "); ok && strings.HasPrefix(msg, "code: ") {
		msg = rest
	}
	if i := strings.LastIndex(msg, " request id: "); i >= 0 {
		msg = msg[:i]
	}
	return &apiError{Code: code, Message: msg}
}
