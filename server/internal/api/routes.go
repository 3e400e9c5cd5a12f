package api

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/auth"
)

// Services are the handlers Register mounts.
type Services struct {
	Design    *DesignService
	Instances *InstanceService
	Identity  *IdentityService
	Settings  *SettingsService
	EventLog  *EventLogService
	Health    *HealthChecker
	// Auth authenticates and authorises every RPC but health and reflection.
	Auth *auth.Authenticator
}

// Options tune every RPC handler.
type Options struct {
	Log             *slog.Logger
	TracerProvider  trace.TracerProvider
	MaxRequestBytes int
	// PageKey returns the key that authenticates page tokens, the same on every replica.
	PageKey PageKeyFunc
}

// CompressMinBytes is the smallest response the RPC handlers compress (with gzip, when the client
// accepts it); smaller ones go out as they are.
const CompressMinBytes = 1024

// OpenRequestBytes caps a request to gRPC health and reflection, which anyone may call: a
// health check names a service, a reflection request a symbol or a file.
const OpenRequestBytes = 16 << 10

// gzipName is the gzip encoding's name in Connect's and gRPC's headers.
const gzipName = "gzip"

// newFastGzip is a gzip writer at BestSpeed, for Connect's pool of compressors.
func newFastGzip() connect.Compressor {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // errs only for a level out of range
	return w
}

// cappedGzip is a gzip reader that inflates at most max+1 bytes, then fails. connect-go reads a
// compressed request up to its cap plus one byte and then, to report the size, inflates the
// rest to the end: a 4 MB body of zeros inflates to 4 GB, seconds of CPU for a caller with any
// key. Failing past the cap, it reports the request as over the cap without its size.
type cappedGzip struct {
	gzip.Reader
	max, read int64
}

// errInflatedPastCap is cappedGzip's failure, in the answer's message.
var errInflatedPastCap = errors.New("the compressed request inflates past the cap; it was not inflated further")

func newCappedGzip(maxBytes int64) *cappedGzip {
	if maxBytes <= 0 {
		maxBytes = math.MaxInt64 - 1
	}
	return &cappedGzip{max: maxBytes}
}

func (g *cappedGzip) Reset(r io.Reader) error {
	g.read = 0
	return g.Reader.Reset(r)
}

func (g *cappedGzip) Read(p []byte) (int, error) {
	if g.read > g.max {
		return 0, errInflatedPastCap
	}
	if left := g.max + 1 - g.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := g.Reader.Read(p)
	g.read += int64(n)
	return n, err
}

// ServiceNames lists the served services, for reflection and health.
var ServiceNames = []string{
	flowhookv1connect.WorkflowDesignServiceName,
	flowhookv1connect.WorkflowInstanceServiceName,
	flowhookv1connect.IdentityServiceName,
	flowhookv1connect.ProviderSettingsServiceName,
	flowhookv1connect.EventLogServiceName,
}

// Register mounts the Connect services, gRPC health and reflection on mux. Every RPC gets
// authentication and its role check before its body is read (auth.Gate: a refused call gets no
// span), a span (otelconnect), strict decoding (an unknown JSON field or enum name is
// InvalidArgument) and the protovalidate rules of its request (strict.go), a cap on its request
// size, and panic recovery that answers Internal. Health and reflection need no credentials;
// their requests are capped at OpenRequestBytes.
func Register(mux *http.ServeMux, svc Services, o Options) error {
	otelInterceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(o.TracerProvider),
	)
	if err != nil {
		return err
	}
	if o.PageKey == nil {
		return errors.New("api: Options.PageKey is required")
	}
	checker, err := newRequestChecker(o.Log, svc.Design.draftProblems)
	if err != nil {
		return err
	}
	// The request checks come after authentication (the gate's, and the interceptor's for a
	// call that did not pass it) and before the handler.
	opts := []connect.HandlerOption{
		connect.WithInterceptors(otelInterceptor, svc.Auth.Interceptor(func(ctx context.Context, err error) error {
			return toConnect(ctx, o.Log, err)
		}), checker.Interceptor(), pagingInterceptor(&pageKeys{load: o.PageKey}, func(ctx context.Context, err error) error {
			return toConnect(ctx, o.Log, err)
		})),
		connect.WithReadMaxBytes(o.MaxRequestBytes),
		// A response under CompressMinBytes goes out uncompressed even to a client that accepts
		// gzip: an instance or a page of a few is a few hundred bytes, and gzip's CPU (a
		// compressor's reset alone clears its tables) cost a fifth of a GetInstance.
		connect.WithCompressMinBytes(CompressMinBytes),
		// gzip at its fastest level (connect-go's own is the default level, 6). A list page or
		// a large instance is compressed once and sent once, so its ratio matters less than
		// the CPU, and the default level's compressor clears 640 KB of tables on every reset
		// (connect-go resets it twice a response); BestSpeed's reset clears nothing.
		connect.WithCompression(gzipName, func() connect.Decompressor { return newCappedGzip(int64(o.MaxRequestBytes)) }, newFastGzip),
		recoverPanics(o.Log),
	}
	opts = append(opts, strictJSONCodecs()...)
	// Authentication and the role check come first, before connect-go reads the body (Gate);
	// before that, a request no RPC protocol reads is told why (explainUnsupported).
	gated := func(path string, h http.Handler) (string, http.Handler) {
		return path, explainUnsupported(svc.Auth.Gate(h, func(ctx context.Context, err error) error {
			return toConnect(ctx, o.Log, err)
		}))
	}
	mux.Handle(gated(flowhookv1connect.NewWorkflowDesignServiceHandler(svc.Design, opts...)))
	mux.Handle(gated(flowhookv1connect.NewWorkflowInstanceServiceHandler(svc.Instances, opts...)))
	mux.Handle(gated(flowhookv1connect.NewIdentityServiceHandler(svc.Identity, opts...)))
	mux.Handle(gated(flowhookv1connect.NewProviderSettingsServiceHandler(svc.Settings, opts...)))
	mux.Handle(gated(flowhookv1connect.NewEventLogServiceHandler(svc.EventLog, opts...)))
	// Health and reflection need no key, so their requests (a service name, a file's name) are
	// capped small: connect-go's default is no cap at all, and these are read by anyone.
	open := connect.WithReadMaxBytes(OpenRequestBytes)
	explained := func(path string, h http.Handler) (string, http.Handler) { return path, explainUnsupported(h) }
	mux.Handle(explained(grpchealth.NewHandler(svc.Health, open)))
	reflector := grpcreflect.NewStaticReflector(append([]string{grpchealth.HealthV1ServiceName}, ServiceNames...)...)
	mux.Handle(explained(grpcreflect.NewHandlerV1(reflector, open)))
	mux.Handle(explained(grpcreflect.NewHandlerV1Alpha(reflector, open)))
	return nil
}

// explainUnsupported gives a body to the empty answers connect-go makes to a request no RPC
// protocol reads: a POST without a Content-Type it accepts (curl -d sends none, or
// application/x-www-form-urlencoded) gets 415 and a GET to a procedure that is not read with
// GET gets 405, both with nothing to read. The status and connect-go's headers (Accept-Post,
// Allow) stay; the body is a Connect error in JSON saying what to send. A POST whose Content-Type
// names JSON, binary protobuf, Connect streaming, gRPC or gRPC-Web goes through untouched, so
// does any answer connect-go writes a body to.
func explainUnsupported(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && rpcContentType(r.Header.Get("Content-Type")) {
			next.ServeHTTP(w, r)
			return
		}
		ew := &emptyRefusal{ResponseWriter: w}
		next.ServeHTTP(ew, r)
		if ew.held == 0 {
			return
		}
		msg := "send Content-Type: application/json (or application/proto, or use a Connect/gRPC client)"
		switch {
		case ew.held == http.StatusMethodNotAllowed:
			msg = "call this procedure with POST and Content-Type: application/json (or application/proto, or use a Connect/gRPC client)"
		case r.Method == http.MethodGet:
			msg = "a GET names its request in the query: ?encoding=json&message=<the request's JSON, URL-encoded>; or POST it with Content-Type: application/json"
		case r.Header.Get("Content-Type") != "":
			msg = "Content-Type " + echo(r.Header.Get("Content-Type")) + " is not one this API reads: " + msg
		}
		body, _ := json.Marshal(struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{connect.CodeInvalidArgument.String(), msg})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(ew.held)
		_, _ = w.Write(body)
	})
}

// rpcContentType reports a media type some RPC protocol reads: JSON or binary protobuf
// (Connect unary), application/connect+… (Connect streaming), application/grpc… (gRPC,
// gRPC-Web), parameters such as charset allowed.
func rpcContentType(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || mt == "application/proto" ||
		strings.HasPrefix(mt, "application/connect+") || strings.HasPrefix(mt, "application/grpc")
}

// echo quotes a header the answer repeats, cut to maxEchoed characters.
func echo(v string) string {
	if r := []rune(v); len(r) > maxEchoed {
		v = string(r[:maxEchoed]) + "…"
	}
	return strconv.Quote(v)
}

// emptyRefusal holds back a 405 or 415 until something is written after it: when nothing is,
// the refusal was empty and explainUnsupported writes it with a body.
type emptyRefusal struct {
	http.ResponseWriter
	held int
}

func (w *emptyRefusal) WriteHeader(code int) {
	if w.held == 0 && (code == http.StatusMethodNotAllowed || code == http.StatusUnsupportedMediaType) {
		w.held = code
		return
	}
	w.release()
	w.ResponseWriter.WriteHeader(code)
}

func (w *emptyRefusal) Write(b []byte) (int, error) {
	w.release()
	return w.ResponseWriter.Write(b)
}

// release writes a held status: a body follows it.
func (w *emptyRefusal) release() {
	if code := w.held; code != 0 {
		w.held = 0
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *emptyRefusal) Flush() {
	w.release()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *emptyRefusal) Unwrap() http.ResponseWriter { return w.ResponseWriter }
