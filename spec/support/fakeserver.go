// fakeserver: pgolua's HTTP test server. It listens on 127.0.0.1 only and answers
// recorded responses shaped after docs/backends-reference (net/http/pprof, Grafana
// Pyroscope's SelectMergeProfile, Parca's /api/profiles/query), plus the failure modes
// the specs need. Every request is recorded as one JSON line (method, path, query,
// headers, base64 body) for the specs to assert what pgolua sent.
//
//	fakeserver -state FILE -profile PROFILE [-record FILE] [-ports N] [-tls]
//	           [-cert-out FILE] [-honor-seconds] [-max-life 10m]
//
// Once listening it writes {"pid": PID, "addrs": ["127.0.0.1:PORT", ...]} to FILE
// (atomically). It exits on SIGTERM/SIGINT, or by itself after -max-life so a crashed
// spec never leaves it behind for long.
//
// Routes:
//
//	/debug/pprof/profile   the canned profile (gzip), after ?seconds=N with -honor-seconds
//	/fail/500              500 text/plain
//	/fail/flaky?key=K&n=N  503 for the first N requests with key K, then the profile
//	/fail/echo-auth        401 whose body repeats the Authorization header
//	/fail/404-html         404 with an HTML page
//	/fail/html200          200 with an HTML page (a login page, a proxy's error page)
//	/fail/inuse            Go's "already in use" answer: 500 + X-Go-Pprof: 1
//	/fail/slow             nothing for 60 s (until the client goes away)
//	/fail/cut              200, Content-Length larger than the body, connection closed
//	/fail/reset            200, half the profile, then a TCP reset (SO_LINGER 0)
//	/fail/drip?chunk=B&every=MS[&delay=MS]   the profile, B bytes every MS milliseconds
//	                       (Content-Length set), after nothing at all for delay: slow but
//	                       complete, or slower than the client's timeout
//	/fail/gzip-bomb        ~1 MiB of gzip that inflates to 1.1 GiB of valid protobuf
//	/fail/heap             the fake server's own heap profile (inuse_space), 200
//	/fail/big?bytes=N[&length=1]   N bytes of body, with Content-Length when length=1
//	/fail/redirect-file    302 to file:///etc/hostname
//	/fail/redirect-loop    302 to itself
//	/fail/redirect-ok      302 to /debug/pprof/profile
//	[/mt|/v1]/querier.v1.QuerierService/SelectMergeStacktraces and .../SelectMergeProfile
//	                       Pyroscope (Connect, binary codec; see pyroscope() for the prefixes,
//	                       max_query_length 24h, service_name="none" = no data)
//	/api/profiles/query    Parca (grpc-gateway JSON, base64 of the gzip profile)
//	/parca.query.v1alpha1.QueryService/Query   Parca over grpc-web (see parcaFail for the
//	                       failure selectors; job="none" = no data)
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type server struct {
	raw, gz []byte // the canned profile, uncompressed and gzip-compressed
	honor   bool

	mu     sync.Mutex
	record *os.File
	flaky  map[string]int

	bombOnce sync.Once
	bomb     []byte // /fail/gzip-bomb's body, built on first use
}

type recorded struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body_base64"`
}

func (s *server) log(r *http.Request, body []byte) {
	if s.record == nil {
		return
	}
	line, _ := json.Marshal(recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header,
		base64.StdEncoding.EncodeToString(body)})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record.Write(append(line, '\n'))
}

func pprofHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// wait sleeps d unless the client goes away first; false when it went away.
func wait(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *server) profile(w http.ResponseWriter, r *http.Request) {
	if s.honor {
		n, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || n <= 0 {
			n = 30
		}
		if !wait(r, time.Duration(n)*time.Second) {
			return
		}
	}
	pprofHeaders(w)
	w.Write(s.gz)
}

func htmlPage(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html>\n<head><title>%s</title></head>\n"+
		"<body><h1>%s</h1><p>This page is not a profile.</p></body>\n</html>\n", title, title)
}

func connectError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func gatewayError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "details": []any{}})
}

// pbFields reads the top-level fields of a protobuf message: varints by number, and
// length-delimited values by number (the last of each). Enough for the requests pgolua
// sends; ok is false for a malformed message.
func pbFields(b []byte) (varints map[int]uint64, bytesF map[int][]byte, ok bool) {
	varints, bytesF = map[int]uint64{}, map[int][]byte{}
	uvarint := func() (uint64, bool) {
		var v uint64
		for shift := 0; shift < 64; shift += 7 {
			if len(b) == 0 {
				return 0, false
			}
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return v, true
			}
		}
		return 0, false
	}
	for len(b) > 0 {
		key, ok := uvarint()
		if !ok {
			return nil, nil, false
		}
		switch key & 7 {
		case 0:
			v, ok := uvarint()
			if !ok {
				return nil, nil, false
			}
			varints[int(key>>3)] = v
		case 2:
			n, ok := uvarint()
			if !ok || n > uint64(len(b)) {
				return nil, nil, false
			}
			bytesF[int(key>>3)] = b[:n]
			b = b[n:]
		default:
			return nil, nil, false
		}
	}
	return varints, bytesF, true
}

// maxQueryLength is Pyroscope's default per-tenant max_query_length.
const maxQueryLength = 24 * time.Hour

// pyroscope answers SelectMergeStacktraces (rpc "stacktraces") and SelectMergeProfile
// ("profile") as a single-tenant Pyroscope 2.2 does; under the /mt/ prefix as a
// multi-tenant one (X-Scope-OrgID required); under /v1/ as a server before 2.2, whose
// SelectMergeStacktraces knows no PPROF format and answers a flame graph.
func (s *server) pyroscope(w http.ResponseWriter, r *http.Request, body []byte, rpc string) {
	if r.Method != http.MethodPost {
		connectError(w, http.StatusMethodNotAllowed, "unimplemented", "POST required")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/mt/") && r.Header.Get("X-Scope-OrgID") == "" {
		connectError(w, http.StatusUnauthorized, "unauthenticated", "no org id")
		return
	}
	if r.Header.Get("Content-Type") != "application/proto" {
		connectError(w, http.StatusUnsupportedMediaType, "unknown", "unsupported content type")
		return
	}
	v, f, ok := pbFields(body)
	if !ok {
		connectError(w, http.StatusBadRequest, "invalid_argument", "proto: cannot parse invalid wire-format data")
		return
	}
	start, end := time.UnixMilli(int64(v[3])), time.UnixMilli(int64(v[4]))
	switch {
	case v[3] == 0 || v[4] == 0:
		connectError(w, http.StatusBadRequest, "invalid_argument", "missing time range in the query")
		return
	case start.After(end):
		connectError(w, http.StatusBadRequest, "invalid_argument", "query start time is after end time")
		return
	case end.Sub(start) > maxQueryLength:
		connectError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf(
			"the query time range exceeds the limit (max_query_length, actual: %s, limit: %s)",
			end.Sub(start), maxQueryLength))
		return
	}
	w.Header().Set("Content-Type", "application/proto")
	empty := bytes.Contains(f[2], []byte(`service_name="none"`))
	var out []byte
	switch {
	case rpc == "profile" && !empty:
		out = s.raw
	case rpc == "stacktraces" && strings.HasPrefix(r.URL.Path, "/v1/"):
		out = pbBytes(1, []byte{0x0a, 0x00}) // flamegraph {names: [""]}
	case rpc == "stacktraces" && v[6] == 4 && !empty: // PROFILE_FORMAT_PPROF
		out = pbBytes(5, pbBytes(1, s.raw))
	case rpc == "stacktraces" && v[6] == 4:
		out = pbBytes(5, nil) // an empty profile
	}
	writeMaybeGzip(w, r, out) // no data in range: 200 with an empty body
}

func pbBytes(field int, b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(field)<<3|2)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// writeMaybeGzip writes b, gzip-compressed when the client accepts it (as Connect and
// grpc-gateway servers do).
func writeMaybeGzip(w http.ResponseWriter, r *http.Request, b []byte) {
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") || len(b) == 0 {
		w.Write(b)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	zw.Write(b)
	zw.Close()
}

// parcaFail answers the selectors that stand for Parca's failure modes, or returns false:
// size="big" is over the gateway's 4 MiB gRPC limit (429), size="huge" over grpc-web's
// too, slow="1" is cut off by the 60 s write timeout when the range is over 12 h (the
// connection closes without an answer).
func parcaFail(w http.ResponseWriter, query string, span time.Duration, gateway bool) bool {
	switch {
	case strings.Contains(query, `size="big"`) && gateway, strings.Contains(query, `size="huge"`) && gateway:
		gatewayError(w, http.StatusTooManyRequests, 8,
			"grpc: received message larger than max (5242880 vs. 4194304)")
		return true
	case strings.Contains(query, `slow="1"`) && span > 12*time.Hour:
		if conn, _ := hijack(w); conn != nil {
			conn.Close()
		}
		return true
	}
	return false
}

// parcaProfile is the gzip pprof Parca would merge for query: none for job="none".
func (s *server) parcaProfile(query string) []byte {
	if strings.Contains(query, `job="none"`) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Close()
		return b.Bytes()
	}
	return s.gz
}

func (s *server) parca(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("mode") != "MODE_MERGE" || q.Get("reportType") != "REPORT_TYPE_PPROF" {
		gatewayError(w, 400, 3, "merge must not be unset")
		return
	}
	if q.Get("merge.query") == "" {
		gatewayError(w, 400, 3, "query must contain a profile-type selection")
		return
	}
	start, err1 := time.Parse(time.RFC3339Nano, q.Get("merge.start"))
	end, err2 := time.Parse(time.RFC3339Nano, q.Get("merge.end"))
	if err1 != nil || err2 != nil || !end.After(start) {
		gatewayError(w, 400, 3, "start and end must be set and end must be after start")
		return
	}
	if parcaFail(w, q.Get("merge.query"), end.Sub(start), true) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	js, _ := json.Marshal(map[string]string{
		"pprof": base64.StdEncoding.EncodeToString(s.parcaProfile(q.Get("merge.query"))),
		"total": "0", "filtered": "42"})
	writeMaybeGzip(w, r, js)
}

// parcaGrpcWeb answers POST /parca.query.v1alpha1.QueryService/Query in grpc-web framing.
func (s *server) parcaGrpcWeb(w http.ResponseWriter, r *http.Request, body []byte) {
	trailer := func(status int, msg string) []byte {
		t := fmt.Sprintf("grpc-status:%d\r\ngrpc-message:%s\r\n", status, msg)
		return append(binary.BigEndian.AppendUint32([]byte{0x80}, uint32(len(t))), t...)
	}
	w.Header().Set("Content-Type", "application/grpc-web+proto")
	if len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		w.Write(trailer(13, "grpc: malformed frame"))
		return
	}
	v, f, ok := pbFields(body[5:])
	_, mf, ok2 := pbFields(f[3])
	if !ok || !ok2 || v[1] != 2 || v[5] != 1 {
		w.Write(trailer(3, "merge must not be unset"))
		return
	}
	ts := func(b []byte) time.Time {
		tv, _, _ := pbFields(b)
		return time.Unix(int64(tv[1]), int64(tv[2]))
	}
	query := string(mf[1])
	span := ts(mf[3]).Sub(ts(mf[2]))
	if strings.Contains(query, `size="huge"`) {
		w.Write(trailer(8, "grpc: trying to send message larger than max (40000000 vs. 33554432)"))
		return
	}
	if parcaFail(w, query, span, false) {
		return
	}
	msg := pbBytes(6, s.parcaProfile(query))
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	w.Write(append(append(frame, msg...), trailer(0, "")...))
}

// bombMember is one gzip member inflating to bombMemberSize bytes: a field pprof's
// decoders skip (number 20, varint 0; the three bytes A0 01 00) over and over, so the
// inflated stream stays a well-formed profile and only the decompressed-size limit can
// stop it. Its size is a multiple of three so concatenated members keep the records
// whole.
const bombMemberSize = 3 << 24 // 48 MiB

// gzipBomb builds /fail/gzip-bomb's body: a sample_type field (a profile's usual first
// bytes), then members up to 1.1 GiB inflated, past the 1 GiB default limit.
func gzipBomb() []byte {
	var head, member bytes.Buffer
	zw := gzip.NewWriter(&head)
	zw.Write([]byte{0x0a, 0x00}) // sample_type: an empty ValueType
	zw.Close()
	zw, _ = gzip.NewWriterLevel(&member, gzip.BestCompression)
	records := bytes.Repeat([]byte{0xa0, 0x01, 0x00}, bombMemberSize/3)
	zw.Write(records)
	zw.Close()
	out := head.Bytes()
	const total = 1100 << 20
	for inflated := 2; inflated < total; inflated += bombMemberSize {
		out = append(out, member.Bytes()...)
	}
	return out
}

// hijack takes the connection over from net/http; nil after answering 500 itself.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", 500)
		return nil, nil
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, nil
	}
	return conn, buf
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.log(r, body)
	q := r.URL.Query()
	switch r.URL.Path {
	case "/debug/pprof/profile":
		s.profile(w, r)
	case "/fail/500":
		http.Error(w, "internal error: the backend is down", http.StatusInternalServerError)
	case "/fail/flaky":
		n, _ := strconv.Atoi(q.Get("n"))
		s.mu.Lock()
		s.flaky[q.Get("key")]++
		hits := s.flaky[q.Get("key")]
		s.mu.Unlock()
		if hits <= n {
			http.Error(w, "service unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		pprofHeaders(w)
		w.Write(s.gz)
	case "/fail/echo-auth":
		// a careless server that repeats the credential it rejects
		http.Error(w, "invalid credentials: "+r.Header.Get("Authorization"), http.StatusUnauthorized)
	case "/fail/304":
		w.WriteHeader(http.StatusNotModified)
	case "/fail/404-html":
		htmlPage(w, http.StatusNotFound, "404 Not Found")
	case "/fail/html200":
		htmlPage(w, http.StatusOK, "Sign in")
	case "/fail/inuse":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Go-Pprof", "1")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "Could not enable CPU profiling: cpu profiling already in use")
	case "/fail/slow":
		if wait(r, 60*time.Second) {
			pprofHeaders(w)
			w.Write(s.gz)
		}
	case "/fail/cut":
		conn, buf := hijack(w)
		if conn == nil {
			return
		}
		half := len(s.gz) / 2
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"+
			"Content-Length: %d\r\n\r\n", len(s.gz))
		buf.Write(s.gz[:half])
		buf.Flush()
		conn.Close()
	case "/fail/badchunk":
		// a 200 whose chunked body breaks at once: a chunk size line that is not hex
		conn, buf := hijack(w)
		if conn == nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"+
			"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
		buf.Flush()
		conn.Close()
	case "/fail/401-html":
		htmlPage(w, http.StatusUnauthorized, "Sign in")
	case "/fail/reset":
		conn, buf := hijack(w)
		if conn == nil {
			return
		}
		half := len(s.gz) / 2
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"+
			"Content-Length: %d\r\n\r\n", len(s.gz))
		buf.Write(s.gz[:half])
		buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close sends RST, not FIN: "connection reset by peer"
		}
		conn.Close()
	case "/fail/drip":
		chunk, _ := strconv.Atoi(q.Get("chunk"))
		every, _ := strconv.Atoi(q.Get("every"))
		chunk, every = max(chunk, 1), max(every, 1)
		if delay, _ := strconv.Atoi(q.Get("delay")); delay > 0 &&
			!wait(r, time.Duration(delay)*time.Millisecond) {
			return
		}
		pprofHeaders(w)
		w.Header().Set("Content-Length", strconv.Itoa(len(s.gz)))
		flusher, _ := w.(http.Flusher)
		for off := 0; off < len(s.gz); off += chunk {
			if off > 0 && !wait(r, time.Duration(every)*time.Millisecond) {
				return
			}
			if _, err := w.Write(s.gz[off:min(off+chunk, len(s.gz))]); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	case "/fail/gzip-bomb":
		s.bombOnce.Do(func() { s.bomb = gzipBomb() })
		pprofHeaders(w)
		w.Write(s.bomb)
	case "/fail/heap":
		// what /debug/pprof/heap serves: a gzip-compressed heap profile whose sample
		// types are alloc_objects, alloc_space, inuse_objects, inuse_space
		var b bytes.Buffer
		if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		pprofHeaders(w)
		w.Write(b.Bytes())
	case "/fail/big":
		n, _ := strconv.Atoi(q.Get("bytes"))
		if q.Get("length") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		pprofHeaders(w)
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	case "/fail/redirect-file":
		w.Header().Set("Location", "file:///etc/hostname")
		w.WriteHeader(http.StatusFound)
	case "/fail/redirect-loop":
		http.Redirect(w, r, "/fail/redirect-loop", http.StatusFound)
	case "/fail/redirect-ok":
		http.Redirect(w, r, "/debug/pprof/profile", http.StatusFound)
	case "/api/profiles/query":
		s.parca(w, r)
	case "/parca.query.v1alpha1.QueryService/Query":
		s.parcaGrpcWeb(w, r, body)
	default:
		switch {
		case strings.HasSuffix(r.URL.Path, "/querier.v1.QuerierService/SelectMergeProfile"):
			s.pyroscope(w, r, body, "profile")
		case strings.HasSuffix(r.URL.Path, "/querier.v1.QuerierService/SelectMergeStacktraces"):
			s.pyroscope(w, r, body, "stacktraces")
		default:
			http.NotFound(w, r)
		}
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	state := flag.String("state", "", "file receiving {pid, addrs} once listening (required)")
	profile := flag.String("profile", "", "the canned profile (gzip or raw pprof)")
	record := flag.String("record", "", "append one JSON line per request to this file")
	ports := flag.Int("ports", 1, "how many ports to listen on (same routes on each)")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate")
	certOut := flag.String("cert-out", "", "with -tls: write the certificate (PEM) here")
	honor := flag.Bool("honor-seconds", false, "wait ?seconds=N before answering /debug/pprof/profile")
	maxLife := flag.Duration("max-life", 10*time.Minute, "exit after this long no matter what")
	flag.Parse()
	if *state == "" {
		log.Fatal("-state is required")
	}
	s := &server{honor: *honor, flaky: map[string]int{}}
	if *profile != "" {
		data, err := os.ReadFile(*profile)
		if err != nil {
			log.Fatal(err)
		}
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			s.gz = data
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				log.Fatal(err)
			}
			if s.raw, err = io.ReadAll(zr); err != nil {
				log.Fatal(err)
			}
		} else {
			s.raw = data
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			s.gz = b.Bytes()
		}
	}
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			log.Fatal(err)
		}
		s.record = f
	}
	time.AfterFunc(*maxLife, func() { log.Print("max-life reached"); os.Exit(3) })

	var addrs []string
	for i := 0; i < *ports; i++ {
		if *useTLS {
			ts := httptest.NewUnstartedServer(s) // listens on 127.0.0.1:0
			ts.StartTLS()
			addrs = append(addrs, ts.Listener.Addr().String())
			if *certOut != "" && i == 0 {
				pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
				if err := writeFileAtomic(*certOut, pemData); err != nil {
					log.Fatal(err)
				}
			}
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
	}
	st, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "addrs": addrs})
	if err := writeFileAtomic(*state, st); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
