// Package awstest runs the handlers' real aws-sdk-go-v2 clients against
// httptest servers that speak each service's protocol: the AWS query protocol
// with XML responses (CloudFormation, RDS) and REST-JSON or JSON-RPC (AWS
// Backup, Amazon EFS, AWS Lambda, Step Functions, DataSync). Serialization,
// validation, error codes, retries and waiters are then the SDK's own; the
// tests only choose the responses, which follow the shapes of each API
// reference page named next to them.
package awstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region and Account are the fixtures' region and account.
const (
	Region  = "ap-northeast-1"
	Account = "123456789012"
)

// Config is an SDK configuration that sends every request to url, with
// static credentials and the SDK's standard retryer, whose backoff is cut to
// a millisecond so that retries do not slow the tests.
func Config(url string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(url),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.NewExponentialJitterBackoff(time.Millisecond)
				o.MaxBackoff = time.Millisecond
			})
		},
	}
}

// Request is one request a fake service received.
type Request struct {
	// Operation is the query Action, the X-Amz-Target operation, or
	// "METHOD path" for REST APIs.
	Operation string
	// Form holds the query protocol's parameters.
	Form url.Values
	// Query holds a REST request's query string.
	Query url.Values
	// Body is the request body.
	Body []byte
}

// JSON decodes the request body.
func (r Request) JSON(v interface{}) error { return json.Unmarshal(r.Body, v) }

// Response is what a fake service answers.
type Response struct {
	Status  int
	Body    string
	Headers map[string]string
}

// Handler answers one request.
type Handler func(r Request) Response

// Server is a fake AWS service that records its requests.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
}

// Operations lists the operations the server received, in order.
func (s *Server) Operations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.Operation
	}
	return out
}

// Requests returns the requests the server received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// NewServer starts a fake service; it stops when the test ends.
func NewServer(t testing.TB, h Handler) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := Request{Body: body, Query: r.URL.Query()}
		switch {
		case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
			req.Form, _ = url.ParseQuery(string(body))
			req.Operation = req.Form.Get("Action")
		case r.Header.Get("X-Amz-Target") != "":
			target := r.Header.Get("X-Amz-Target")
			req.Operation = target[strings.LastIndex(target, ".")+1:]
		default:
			req.Operation = r.Method + " " + r.URL.Path
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		resp := h(req)
		if resp.Status == 0 {
			resp.Status = http.StatusOK
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.Status)
		_, _ = io.WriteString(w, resp.Body)
	}))
	t.Cleanup(s.Close)
	return s
}

// QueryXML is a successful query-protocol response: the operation's Result
// element in its Response element, in the service's XML namespace.
func QueryXML(namespace, operation, result string) Response {
	return Response{Headers: map[string]string{"Content-Type": "text/xml"}, Body: fmt.Sprintf(
		`<%[1]sResponse xmlns="%[2]s"><%[1]sResult>%[3]s</%[1]sResult><ResponseMetadata><RequestId>7e1c-req</RequestId></ResponseMetadata></%[1]sResponse>`,
		operation, namespace, result)}
}

// QueryError is a query-protocol error response
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html).
func QueryError(status int, code, message string) Response {
	return Response{Status: status, Headers: map[string]string{"Content-Type": "text/xml"}, Body: fmt.Sprintf(
		`<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>7e1c-err</RequestId></ErrorResponse>`, code, message)}
}

// Namespaces of the query-protocol services.
const (
	CloudFormationNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	RDSNS            = "http://rds.amazonaws.com/doc/2014-10-31/"
)

// JSON is a successful JSON response.
func JSON(v interface{}) Response {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return Response{Headers: map[string]string{"Content-Type": "application/json"}, Body: string(raw)}
}

// JSONError is a REST-JSON or JSON-RPC error response: the error code in the
// x-amzn-ErrorType header and the body's __type, as AWS services send them.
func JSONError(status int, code, message string) Response {
	raw, _ := json.Marshal(map[string]string{"__type": code, "message": message, "Message": message, "ErrorCode": code})
	return Response{Status: status, Body: string(raw), Headers: map[string]string{"Content-Type": "application/json", "X-Amzn-Errortype": code}}
}
