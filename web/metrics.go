package web

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   sync.Map // seriesKey -> *series: each request's two series, found once
}

// seriesKey names a request's series. The method is one of methodLabel's, the route a pattern of
// the mux (or "unmatched") and the status one Polydev wrote: the set is bounded whatever clients
// send.
type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// observe counts a request and its duration. The series are looked up in the vectors (a hash of
// the label values, their UTF-8 checked) the first time only.
func (m *metrics) observe(method, route string, status int, seconds float64) {
	k := seriesKey{methodLabel(method), route, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(k.method, route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(seconds)
}

// methodLabel is the method as a label: a standard method, else "other" (a client choosing
// methods must not grow the metrics without bound).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polydev_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "polydev_http_request_duration_seconds", Help: "HTTP request duration by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// registerAdmissionMetrics exports the connection cap's and the gateway admission's state.
func (s *Server) registerAdmissionMetrics(reg prometheus.Registerer) {
	conns := func(f func(*connLimit) float64) func() float64 {
		return func() float64 {
			if l := s.conns.Load(); l != nil {
				return f(l)
			}
			return 0
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "polydev_http_connections_open", Help: "Client connections held open (at most POLYDEV_MAX_CONNS)."},
			conns(func(l *connLimit) float64 { return float64(l.open()) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "polydev_http_connections_displaced_total", Help: "Connections closed at the cap to make room: idle, or still sending headers or a body."},
			conns(func(l *connLimit) float64 { return float64(l.displaced.Load()) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "polydev_http_connections_refused_total", Help: "Connections closed at once at the cap: every open one was being served."},
			conns(func(l *connLimit) float64 { return float64(l.refused.Load()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "polydev_gateway_requests_in_flight", Help: "Gateway requests admitted and not yet done."},
			func() float64 { n, _ := s.inflight.load(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "polydev_gateway_body_bytes_in_flight", Help: "Bytes of gateway request bodies held or being read."},
			func() float64 { _, b := s.inflight.load(); return float64(b) }),
	)
}
