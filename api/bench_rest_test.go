package api_test

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkGetDocumentAt2000rps sends GET /v1/documents/{id} at a steady
// 2,000 requests per second for 5 s (open loop: a request is due every
// 500 µs whether or not earlier ones are done) over keep-alive connections
// and reports latency percentiles. Run with -benchtime=1x.
func BenchmarkGetDocumentAt2000rps(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := newEnvB(b, name == "postgres")
			alice := e.signupB(b, "alice")
			id := e.createB(b, alice)
			url := e.srv.URL + "/v1/documents/" + id
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			const rate, seconds = 2000, 5
			for range b.N {
				lat := make([]time.Duration, 0, rate*seconds)
				var mu sync.Mutex
				var wg sync.WaitGroup
				failures := 0
				tick := time.NewTicker(time.Second / rate)
				start := time.Now()
				for n := 0; n < rate*seconds; n++ {
					due := start.Add(time.Duration(n) * time.Second / rate)
					if d := time.Until(due); d > 0 {
						<-tick.C
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequest("GET", url, nil)
						req.Header.Set("Authorization", "Bearer "+alice)
						resp, err := client.Do(req)
						if err == nil {
							io.Copy(io.Discard, resp.Body) // so the connection is reused
						}
						took := time.Since(due)
						mu.Lock()
						defer mu.Unlock()
						if err != nil || resp.StatusCode != 200 {
							failures++
						} else {
							lat = append(lat, took)
						}
						if resp != nil {
							resp.Body.Close()
						}
					}()
				}
				wg.Wait()
				tick.Stop()
				if failures > 0 {
					b.Fatalf("%d requests failed", failures)
				}
				slices.Sort(lat)
				pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			}
		})
	}
}
