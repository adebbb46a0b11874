// pyroscope-server: a single-tenant Pyroscope stand-in for pgolua's integration specs,
// serving the real Connect services from github.com/grafana/pyroscope/api:
//
//	/push.v1.PusherService/Push                          stores pushed pprof profiles
//	/querier.v1.QuerierService/SelectMergeStacktraces    format PROFILE_FORMAT_PPROF
//	/querier.v1.QuerierService/SelectMergeProfile        the deprecated merge call
//
// Queries are checked as Pyroscope's query frontend checks them (missing range, start
// after end, longer than -max-query-length, default 24h) and answer the profiles whose
// time lies in [start, end] (milliseconds, both ends included), for the label selector's
// service_name (or all with {}), merged, with the profile type's one sample type.
//
// With -scrape URL it captures URL?seconds=N in a loop and pushes each profile to itself
// through the Connect client, as a Pyroscope agent would.
//
//	pyroscope-server -state FILE [-scrape URL -seconds 1 -service NAME] [-max-life 10m]
//
// Once listening on 127.0.0.1 it writes {"pid": PID, "addrs": ["127.0.0.1:PORT"]} to FILE.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/google/pprof/profile"
	googlev1 "github.com/grafana/pyroscope/api/gen/proto/go/google/v1"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
	querierv1 "github.com/grafana/pyroscope/api/gen/proto/go/querier/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/querier/v1/querierv1connect"
	typesv1 "github.com/grafana/pyroscope/api/gen/proto/go/types/v1"
	"google.golang.org/protobuf/proto"
)

type stored struct {
	at      time.Time
	service string
	p       *profile.Profile
}

type store struct {
	querierv1connect.UnimplementedQuerierServiceHandler
	pushv1connect.UnimplementedPusherServiceHandler
	maxQueryLength time.Duration

	mu       sync.Mutex
	profiles []stored
}

func (s *store) Push(_ context.Context, req *connect.Request[pushv1.PushRequest]) (*connect.Response[pushv1.PushResponse], error) {
	for _, series := range req.Msg.Series {
		service := "unknown"
		for _, l := range series.Labels {
			if l.Name == "service_name" {
				service = l.Value
			}
		}
		for _, sample := range series.Samples {
			p, err := profile.ParseData(sample.RawProfile)
			if err != nil {
				return nil, connect.NewError(connect.CodeInvalidArgument, err)
			}
			at := time.Now()
			if p.TimeNanos > 0 {
				at = time.Unix(0, p.TimeNanos)
			}
			s.mu.Lock()
			s.profiles = append(s.profiles, stored{at: at, service: service, p: p})
			s.mu.Unlock()
		}
	}
	return connect.NewResponse(&pushv1.PushResponse{}), nil
}

var serviceMatcher = regexp.MustCompile(`service_name\s*=\s*"([^"]*)"`)

// merge answers one merge query as a google.v1.Profile (nil: no data).
func (s *store) merge(ptype, selector string, start, end int64) (*googlev1.Profile, error) {
	switch {
	case start == 0 || end == 0:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("missing time range in the query"))
	case start > end:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("query start time is after end time"))
	case time.Duration(end-start)*time.Millisecond > s.maxQueryLength:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
			"the query time range exceeds the limit (max_query_length, actual: %s, limit: %s)",
			time.Duration(end-start)*time.Millisecond, s.maxQueryLength))
	}
	parts := strings.Split(ptype, ":")
	if len(parts) < 5 || len(parts) > 6 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
			"profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), got(%d): %q", len(parts), ptype))
	}
	want := ""
	if m := serviceMatcher.FindStringSubmatch(selector); m != nil {
		want = m[1]
	}
	s.mu.Lock()
	var picked []*profile.Profile
	for _, st := range s.profiles {
		ms := st.at.UnixMilli()
		if ms >= start && ms <= end && (want == "" || st.service == want) {
			picked = append(picked, st.p.Copy())
		}
	}
	s.mu.Unlock()
	if len(picked) == 0 {
		return nil, nil
	}
	merged, err := profile.Merge(picked)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	idx := -1
	for i, st := range merged.SampleType {
		if st.Type == parts[1] && st.Unit == parts[2] {
			idx = i
		}
	}
	if idx < 0 {
		return nil, nil
	}
	merged.SampleType = []*profile.ValueType{merged.SampleType[idx]}
	merged.DefaultSampleType = ""
	for _, smp := range merged.Sample {
		smp.Value = []int64{smp.Value[idx]}
	}
	var b bytes.Buffer
	if err := merged.WriteUncompressed(&b); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	var out googlev1.Profile // the same wire format as pprof's Profile
	if err := proto.Unmarshal(b.Bytes(), &out); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return &out, nil
}

func (s *store) SelectMergeProfile(_ context.Context, req *connect.Request[querierv1.SelectMergeProfileRequest]) (*connect.Response[googlev1.Profile], error) {
	m := req.Msg
	p, err := s.merge(m.ProfileTypeID, m.LabelSelector, m.Start, m.End)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = &googlev1.Profile{}
	}
	return connect.NewResponse(p), nil
}

func (s *store) SelectMergeStacktraces(_ context.Context, req *connect.Request[querierv1.SelectMergeStacktracesRequest]) (*connect.Response[querierv1.SelectMergeStacktracesResponse], error) {
	m := req.Msg
	if m.Format != querierv1.ProfileFormat_PROFILE_FORMAT_PPROF {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this test server answers PROFILE_FORMAT_PPROF only"))
	}
	p, err := s.merge(m.ProfileTypeID, m.LabelSelector, m.Start, m.End)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = &googlev1.Profile{}
	}
	return connect.NewResponse(&querierv1.SelectMergeStacktracesResponse{Pprof: &querierv1.PprofProfile{Profile: p}}), nil
}

// scrape captures url?seconds=N over and over and pushes each profile to base.
func scrape(url string, seconds int, service, base string) {
	client := pushv1connect.NewPusherServiceClient(http.DefaultClient, base)
	for {
		resp, err := http.Get(fmt.Sprintf("%s?seconds=%d", url, seconds))
		if err != nil {
			log.Print(err)
			time.Sleep(time.Second)
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			log.Printf("scrape: status %d, %v", resp.StatusCode, err)
			time.Sleep(time.Second)
			continue
		}
		_, err = client.Push(context.Background(), connect.NewRequest(&pushv1.PushRequest{
			Series: []*pushv1.RawProfileSeries{{
				Labels: []*typesv1.LabelPair{
					{Name: "__name__", Value: "process_cpu"}, {Name: "service_name", Value: service}},
				Samples: []*pushv1.RawSample{{RawProfile: raw}},
			}},
		}))
		if err != nil {
			log.Print(err)
		}
	}
}

func main() {
	state := flag.String("state", "", "file receiving {pid, addrs} once listening (required)")
	scrapeURL := flag.String("scrape", "", "capture this /debug/pprof/profile URL in a loop and push it")
	seconds := flag.Int("seconds", 1, "with -scrape: the capture window")
	service := flag.String("service", "example", "with -scrape: the service_name label")
	maxQuery := flag.Duration("max-query-length", 24*time.Hour, "longest query range accepted")
	maxLife := flag.Duration("max-life", 10*time.Minute, "exit after this long no matter what")
	flag.Parse()
	if *state == "" {
		log.Fatal("-state is required")
	}
	time.AfterFunc(*maxLife, func() { log.Print("max-life reached"); os.Exit(3) })
	s := &store{maxQueryLength: *maxQuery}
	mux := http.NewServeMux()
	mux.Handle(querierv1connect.NewQuerierServiceHandler(s, connect.WithCompressMinBytes(1024)))
	mux.Handle(pushv1connect.NewPusherServiceHandler(s))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	base := "http://" + ln.Addr().String()
	if *scrapeURL != "" {
		go scrape(*scrapeURL, *seconds, *service, base)
	}
	st, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "addrs": []string{ln.Addr().String()}})
	if err := os.WriteFile(*state+".tmp", st, 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*state+".tmp", *state); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
