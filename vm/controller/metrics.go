package controller

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	byState       *prometheus.GaugeVec
	creates       *prometheus.CounterVec
	failures      *prometheus.CounterVec
	createSeconds *prometheus.HistogramVec
	reaped        prometheus.Counter
	poolUsed      prometheus.Gauge
	poolTotal     prometheus.Gauge
	warm          prometheus.Gauge
	golden        *prometheus.CounterVec
	reclaimed     *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		byState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "polydev_vms", Help: "VM records by state (refreshed by the pool monitor).",
		}, []string{"state"}),
		creates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polydev_vm_boots_total", Help: "VMs brought to running by Create or Start, by boot path (warm, restore, cold).",
		}, []string{"path"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polydev_vm_failures_total", Help: "VM operations that failed, by stage.",
		}, []string{"stage"}),
		createSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "polydev_vm_boot_seconds", Help: "Time from a Create or Start call to a healthy VM, by boot path.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90},
		}, []string{"path"}),
		reaped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "polydev_vm_reaped_total", Help: "Idle VMs stopped by the reaper.",
		}),
		poolUsed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "polydev_vm_pool_used", Help: "Leased addresses of the VM pool (tap mode).",
		}),
		poolTotal: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "polydev_vm_pool_total", Help: "Usable addresses of the VM pool (tap mode).",
		}),
		warm: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "polydev_vm_warm", Help: "Booted VMs waiting in the warm pool.",
		}),
		golden: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polydev_vm_golden_total", Help: "Golden snapshots made (a golden VM booted cold) or reused (a saved one verified), by result.",
		}, []string{"result"}),
		reclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "polydev_vm_reconcile_reclaimed_total", Help: "Orphans the reconciler removed, by kind (process, file, network, lease, record, failed_record).",
		}, []string{"kind"}),
	}
}

// Collectors returns the controller's metrics for a prometheus registry.
func (c *Controller) Collectors() []prometheus.Collector {
	m := c.metrics
	return []prometheus.Collector{m.byState, m.creates, m.failures, m.createSeconds, m.reaped, m.poolUsed, m.poolTotal, m.warm, m.golden, m.reclaimed}
}
