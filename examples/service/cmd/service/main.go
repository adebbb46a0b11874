// Command service is pgolua's demo and test service: three CPU-bound routes, each run
// under a pprof label, and net/http/pprof, listening on a loopback address only.
//
//	SERVICE_ADDR=127.0.0.1:6060 service [-load N]
//
// With -load N it also drives itself with N concurrent clients, so a capture of
// /debug/pprof/profile sees steady traffic without an external load generator.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"example.com/pgolua-demo/internal/work"
)

type server struct {
	stores []work.Store
}

func (s *server) labeled(route string, fn func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), pprof.Labels("endpoint", route), func(context.Context) { fn(w, r) })
	}
}

// lookupKeys makes /lookup the service's heaviest route (about a third of its CPU), so
// even a short capture on a loaded machine holds hundreds of samples on the
// Lookup -> (*FastStore).Get edge and the compiler always devirtualizes it.
const lookupKeys = 50000

func (s *server) handleLookup(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, work.Lookup(s.stores, lookupKeys))
}

func (s *server) handleDigest(w http.ResponseWriter, r *http.Request) {
	sum := work.Digest(300)
	fmt.Fprintf(w, "%x\n", sum[:8])
}

func (s *server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n <= 0 || n > 100000 {
		n = 2000
	}
	body, err := work.Catalog(n)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// selfLoad sends requests to the service from n goroutines until the process ends,
// choosing routes 60/25/15.
func selfLoad(base string, n int) {
	for i := 0; i < n; i++ {
		go func(seed int64) {
			rng := rand.New(rand.NewSource(seed))
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				route := "/lookup"
				switch x := rng.Intn(100); {
				case x >= 85:
					route = "/catalog"
				case x >= 60:
					route = "/digest"
				}
				resp, err := client.Get(base + route)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}(int64(i + 1))
	}
}

func main() {
	load := flag.Int("load", 0, "concurrent self-load clients (0 = none)")
	flag.Parse()
	addr := os.Getenv("SERVICE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("SERVICE_ADDR must be a loopback host:port, got %q", addr)
	}
	s := &server{stores: work.Stores(20)}
	http.HandleFunc("/lookup", s.labeled("/lookup", s.handleLookup))
	http.HandleFunc("/digest", s.labeled("/digest", s.handleDigest))
	http.HandleFunc("/catalog", s.labeled("/catalog", s.handleCatalog))
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("service listening on http://%s", ln.Addr())
	if *load > 0 {
		selfLoad("http://"+ln.Addr().String(), *load)
	}
	log.Fatal(http.Serve(ln, nil))
}
