package jaegertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrTraceNotFound is returned by GetTrace for a trace Jaeger does not have (yet).
var ErrTraceNotFound = errors.New("jaegertest: trace not found")

// Trace is a trace as Jaeger's query API reports it.
type Trace struct {
	TraceID string `json:"traceID"`
	Spans   []Span `json:"spans"`
	// Processes are the resources the spans came from, by Span.ProcessID.
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is a span in Jaeger's model.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	Flags         int         `json:"flags"`
	// StartTime is microseconds since the Unix epoch; Duration is microseconds.
	StartTime int64      `json:"startTime"`
	Duration  int64      `json:"duration"`
	Tags      []KeyValue `json:"tags"`
	Logs      []Log      `json:"logs"`
	ProcessID string     `json:"processID"`
	Warnings  []string   `json:"warnings"`
}

// Reference is a span's parent (RefType "CHILD_OF") or one of its links ("FOLLOWS_FROM").
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Reference types.
const (
	ChildOf     = "CHILD_OF"
	FollowsFrom = "FOLLOWS_FROM"
)

// KeyValue is a tag, a log field or a process tag. Type is "string", "bool", "int64",
// "float64" or "binary"; Value is the JSON value as Jaeger wrote it.
type KeyValue struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// String renders the value as a string whatever its JSON type: a JSON string unquoted, any
// other value (number, bool, …) as its JSON text.
func (kv KeyValue) String() string {
	var s string
	if err := json.Unmarshal(kv.Value, &s); err == nil {
		return s
	}
	return string(bytes.TrimSpace(kv.Value))
}

// Log is a span event in Jaeger's model: its fields are the event's attributes, and the field
// "event" its name.
type Log struct {
	// Timestamp is microseconds since the Unix epoch.
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Process is the resource a span came from.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// Event is a span event rebuilt from a Log.
type Event struct {
	Name       string
	Time       time.Time
	Attributes map[string]string
}

// SpansNamed returns the spans whose operation name is name.
func (tr Trace) SpansNamed(name string) []Span {
	var spans []Span
	for _, s := range tr.Spans {
		if s.OperationName == name {
			spans = append(spans, s)
		}
	}
	return spans
}

// Span returns the span with the ID.
func (tr Trace) Span(spanID string) (Span, bool) {
	for _, s := range tr.Spans {
		if s.SpanID == spanID {
			return s, true
		}
	}
	return Span{}, false
}

// ServiceName is the service (resource service.name) the span came from.
func (tr Trace) ServiceName(s Span) string { return tr.Processes[s.ProcessID].ServiceName }

// Tag returns the tag's value rendered as a string (see KeyValue.String).
func (s Span) Tag(key string) (string, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return kv.String(), true
		}
	}
	return "", false
}

// Parent returns the span's CHILD_OF reference, if it has one.
func (s Span) Parent() (Reference, bool) {
	for _, r := range s.References {
		if r.RefType == ChildOf {
			return r, true
		}
	}
	return Reference{}, false
}

// Start is the span's start time.
func (s Span) Start() time.Time { return time.UnixMicro(s.StartTime) }

// Events returns the span's logs as events: the "event" field is the name, the other fields
// are the attributes.
func (s Span) Events() []Event {
	events := make([]Event, 0, len(s.Logs))
	for _, l := range s.Logs {
		e := Event{Time: time.UnixMicro(l.Timestamp), Attributes: map[string]string{}}
		for _, f := range l.Fields {
			if f.Key == "event" {
				e.Name = f.String()
			} else {
				e.Attributes[f.Key] = f.String()
			}
		}
		events = append(events, e)
	}
	return events
}

// response is the envelope of Jaeger's query API.
type response struct {
	Data   []Trace         `json:"data"`
	Errors []responseError `json:"errors"`
}

type responseError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID"`
}

// FindTraces searches the last hour for up to limit traces (Jaeger's default, 100, when limit
// is 0) with a span of the service that has all the tags (span, resource or event attributes).
// Jaeger reports a trace here only some time after it was exported: poll.
func (j *Jaeger) FindTraces(ctx context.Context, service string, tags map[string]string, limit int) ([]Trace, error) {
	q := url.Values{}
	q.Set("service", service)
	if len(tags) > 0 {
		b, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		q.Set("tags", string(b))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	// The API searches [start, end] (µs); lookback is what Jaeger's UI sends and the API ignores.
	now := time.Now()
	q.Set("start", strconv.FormatInt(now.Add(-time.Hour).UnixMicro(), 10))
	q.Set("end", strconv.FormatInt(now.Add(time.Minute).UnixMicro(), 10))
	q.Set("lookback", "1h")
	res, err := j.get(ctx, "/api/traces?"+q.Encode())
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// GetTrace returns the trace with the ID (32 hex digits), or ErrTraceNotFound.
func (j *Jaeger) GetTrace(ctx context.Context, traceID string) (Trace, error) {
	res, err := j.get(ctx, "/api/traces/"+url.PathEscape(traceID))
	if err != nil {
		return Trace{}, err
	}
	if len(res.Data) != 1 {
		return Trace{}, fmt.Errorf("jaegertest: GET trace %s: %d traces in the response", traceID, len(res.Data))
	}
	return res.Data[0], nil
}

func (j *Jaeger) get(ctx context.Context, path string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: GET %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrTraceNotFound, path, bytes.TrimSpace(body))
	}
	var res response
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("jaegertest: GET %s: %s: decode %q: %w", path, resp.Status, truncate(body), err)
	}
	if resp.StatusCode != http.StatusOK || len(res.Errors) > 0 {
		return nil, fmt.Errorf("jaegertest: GET %s: %s: %+v", path, resp.Status, res.Errors)
	}
	return &res, nil
}

func truncate(b []byte) []byte {
	if len(b) > 512 {
		return append(b[:512:512], "…"...)
	}
	return b
}
