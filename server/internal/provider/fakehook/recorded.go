package fakehook

import "net/http"

// Recorded serves next, then calls record with the request and the status it was answered
// with: 0 when the handler wrote nothing (it aborted the connection, as a fake that drops an
// answer does), 200 when it wrote a body without a status. The fakes keep their logs of the
// requests they answered with it.
func Recorded(next http.Handler, record func(r *http.Request, status int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() { record(r, sw.status) }() // also when the handler panics to abort
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, hijack, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
