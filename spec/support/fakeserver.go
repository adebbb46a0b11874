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
//	/querier.v1.QuerierService/SelectMergeProfile   Pyroscope (Connect, binary codec)
//	/api/profiles/query    Parca (grpc-gateway JSON, base64 of the gzip profile)
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
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

func (s *server) pyroscope(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		connectError(w, http.StatusMethodNotAllowed, "unimplemented", "POST required")
		return
	}
	if r.Header.Get("X-Scope-OrgID") == "" {
		connectError(w, http.StatusUnauthorized, "unauthenticated", "no org id")
		return
	}
	if r.Header.Get("Content-Type") != "application/proto" {
		connectError(w, http.StatusUnsupportedMediaType, "unknown", "unsupported content type")
		return
	}
	w.Header().Set("Content-Type", "application/proto")
	if bytes.Contains(body, []byte(`service_name="none"`)) {
		return // no data in range: 200 with an empty body
	}
	w.Write(s.raw)
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
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"pprof": base64.StdEncoding.EncodeToString(s.gz), "total": "0", "filtered": "42"})
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
	case "/querier.v1.QuerierService/SelectMergeProfile":
		s.pyroscope(w, r, body)
	case "/api/profiles/query":
		s.parca(w, r)
	default:
		http.NotFound(w, r)
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
