// tlsserver: a hostile test server for spec/unit/security_spec.lua. It listens on
// 127.0.0.1 only, serves HTTPS with a certificate it generates at start-up (a new ECDSA
// key each run, self-signed, valid for one hour), or plain HTTP with -plain, and has
// routes that repeat the request's credentials back, the way a careless server or proxy
// does, so the specs can prove pgolua never shows them.
//
//	tlsserver -state FILE [-profile FILE] [-cert-out FILE] [-host NAME] [-plain]
//	          [-record FILE] [-max-life 5m]
//
// -host names the certificate's subject: an IP address becomes an IP SAN, anything else a
// DNS SAN (so -host wrong.invalid gives a certificate that does not match 127.0.0.1).
// Once listening it writes {"pid": PID, "addrs": ["127.0.0.1:PORT"]} to FILE (atomically);
// it exits on SIGTERM/SIGINT, or by itself after -max-life.
//
// Routes:
//
//	/debug/pprof/profile  the -profile file as it is
//	/slow                 the same after one second (a progress line gets shown)
//	/echo/500             500, the body repeats the request URI and every header value
//	/echo/401             401, the same body
//	/echo/cut             500, 190 bytes of filler (?pad=N: N bytes), then the Authorization
//	                      header value (a 200-character excerpt of the body cuts it in the middle)
//	/echo/html            404 HTML page whose <title> repeats the Authorization header
//	/redirect?to=URL      302 to URL, whatever its scheme (gopher://, dict://, file://)
//
// With -record, each request appends one line: "<request URI> <Authorization header>",
// so a spec can check the credential really reached the server.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type server struct {
	profile []byte
	mu      sync.Mutex
	record  *os.File
}

// echo is everything the request carried that could hold a secret, on one line.
func echo(r *http.Request) string {
	var parts []string
	parts = append(parts, "uri="+r.RequestURI)
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		parts = append(parts, k+"="+strings.Join(r.Header[k], ","))
	}
	return strings.Join(parts, " ")
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.record != nil {
		s.mu.Lock()
		fmt.Fprintf(s.record, "%s %s\n", r.RequestURI, r.Header.Get("Authorization"))
		s.mu.Unlock()
	}
	switch r.URL.Path {
	case "/debug/pprof/profile", "/slow":
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(s.profile)
	case "/echo/500":
		http.Error(w, "internal error for "+echo(r), http.StatusInternalServerError)
	case "/echo/401":
		http.Error(w, "rejected "+echo(r), http.StatusUnauthorized)
	case "/echo/cut":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		pad := 190
		if n, err := strconv.Atoi(r.URL.Query().Get("pad")); err == nil && n >= 0 && n < 4096 {
			pad = n
		}
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("x", pad), r.Header.Get("Authorization"))
	case "/echo/html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "<html><head><title>Sign in again, %s</title></head><body></body></html>\n",
			r.Header.Get("Authorization"))
	case "/redirect":
		w.Header().Set("Location", r.URL.Query().Get("to"))
		w.WriteHeader(http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// selfSigned makes a new key and a certificate for host, signed by that key.
func selfSigned(host string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"pgolua specs"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own trust anchor, for ca_file
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemCert, nil
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
	profile := flag.String("profile", "", "the file served at /debug/pprof/profile")
	certOut := flag.String("cert-out", "", "write the generated certificate (PEM) here")
	host := flag.String("host", "127.0.0.1", "the certificate's subject (IP or DNS name)")
	plain := flag.Bool("plain", false, "serve plain HTTP instead of HTTPS")
	record := flag.String("record", "", "append '<uri> <Authorization>' per request to this file")
	maxLife := flag.Duration("max-life", 5*time.Minute, "exit after this long no matter what")
	flag.Parse()
	if *state == "" {
		log.Fatal("-state is required")
	}
	s := &server{}
	if *profile != "" {
		data, err := os.ReadFile(*profile)
		if err != nil {
			log.Fatal(err)
		}
		s.profile = data
	}
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			log.Fatal(err)
		}
		s.record = f
	}
	time.AfterFunc(*maxLife, func() { log.Print("max-life reached"); os.Exit(3) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(os.Stderr, "tlsserver: ", 0)}
	if !*plain {
		cert, pemCert, err := selfSigned(*host)
		if err != nil {
			log.Fatal(err)
		}
		if *certOut != "" {
			if err := writeFileAtomic(*certOut, pemCert); err != nil {
				log.Fatal(err)
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert},
			MinVersion: tls.VersionTLS12})
	}
	go srv.Serve(ln)
	st, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "addrs": []string{ln.Addr().String()}})
	if err := writeFileAtomic(*state, st); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
