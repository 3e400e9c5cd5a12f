package api

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"

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
	// Authentication and the role check come first, before connect-go reads the body (Gate).
	gated := func(path string, h http.Handler) (string, http.Handler) {
		return path, svc.Auth.Gate(h, func(ctx context.Context, err error) error {
			return toConnect(ctx, o.Log, err)
		})
	}
	mux.Handle(gated(flowhookv1connect.NewWorkflowDesignServiceHandler(svc.Design, opts...)))
	mux.Handle(gated(flowhookv1connect.NewWorkflowInstanceServiceHandler(svc.Instances, opts...)))
	mux.Handle(gated(flowhookv1connect.NewIdentityServiceHandler(svc.Identity, opts...)))
	mux.Handle(gated(flowhookv1connect.NewProviderSettingsServiceHandler(svc.Settings, opts...)))
	mux.Handle(gated(flowhookv1connect.NewEventLogServiceHandler(svc.EventLog, opts...)))
	// Health and reflection need no key, so their requests (a service name, a file's name) are
	// capped small: connect-go's default is no cap at all, and these are read by anyone.
	open := connect.WithReadMaxBytes(OpenRequestBytes)
	mux.Handle(grpchealth.NewHandler(svc.Health, open))
	reflector := grpcreflect.NewStaticReflector(append([]string{grpchealth.HealthV1ServiceName}, ServiceNames...)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, open))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, open))
	return nil
}
