package firecracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// serveUnix serves h on a unix socket in a fresh temp dir and returns the socket path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestClientRequestsMatchTheSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func(context.Context, *Client) error
		want string // recorded call
	}{
		{"machine config", func(ctx context.Context, c *Client) error {
			return c.PutMachineConfig(ctx, MachineConfiguration{VCPUCount: 2, MemSizeMiB: 1024})
		}, "PUT /machine-config"},
		{"boot source", func(ctx context.Context, c *Client) error {
			return c.PutBootSource(ctx, BootSource{KernelImagePath: "/k", BootArgs: DefaultBootArgs})
		}, "PUT /boot-source"},
		{"drive", func(ctx context.Context, c *Client) error {
			return c.PutDrive(ctx, Drive{DriveID: RootDriveID, PathOnHost: "/r", IsRootDevice: true, IsReadOnly: true})
		}, "PUT /drives/rootfs"},
		{"network interface", func(ctx context.Context, c *Client) error {
			return c.PutNetworkInterface(ctx, NetworkInterface{IfaceID: IfaceID, HostDevName: "tap0", GuestMAC: "06:00:c0:a8:64:02"})
		}, "PUT /network-interfaces/eth0"},
		{"instance start", func(ctx context.Context, c *Client) error {
			return c.Action(ctx, ActionInstanceStart)
		}, "PUT /actions InstanceStart"},
		{"pause", func(ctx context.Context, c *Client) error { return c.Pause(ctx) }, "PATCH /vm Paused"},
		{"resume", func(ctx context.Context, c *Client) error { return c.Resume(ctx) }, "PATCH /vm Resumed"},
		{"snapshot create", func(ctx context.Context, c *Client) error {
			return c.CreateSnapshot(ctx, SnapshotCreateParams{MemFilePath: "/m", SnapshotPath: "/s", SnapshotType: SnapshotFull})
		}, "PUT /snapshot/create"},
		{"snapshot load", func(ctx context.Context, c *Client) error {
			return c.LoadSnapshot(ctx, SnapshotLoadParams{SnapshotPath: "/s", MemBackend: &MemoryBackend{BackendType: BackendFile, BackendPath: "/m"}})
		}, "PUT /snapshot/load"},
		{"describe", func(ctx context.Context, c *Client) error {
			info, err := c.DescribeInstance(ctx)
			if err == nil && (info.State != InstanceNotStarted || info.ID != "fc-test" || info.VMMVersion == "") {
				err = fmt.Errorf("decoded %+v", info)
			}
			return err
		}, "GET /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			c := NewClient(serveUnix(t, schemaOnly(t, rec)))
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			rec.checkValid(t)
			if got := rec.all(); len(got) != 1 || got[0].call() != tt.want {
				t.Errorf("sent %v, want one %s", got, tt.want)
			}
		})
	}
}

// schemaOnly validates and records requests without modelling Firecracker's state: 204 for valid
// requests (InstanceInfo for GET /), 400 with the violation otherwise.
func schemaOnly(t *testing.T, rec *recorder) http.Handler {
	spec := loadSpec(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		x := recorded{Method: r.Method, Path: r.URL.Path}
		if v, err := decodeJSON(body); err == nil {
			x.Body, _ = v.(map[string]any)
		}
		if err := spec.validateRequest(r.Method, r.URL.Path, r.Header.Get("Content-Type"), body); err != nil {
			x.Err = err.Error()
		}
		rec.add(x)
		switch {
		case x.Err != "":
			writeFault(w, http.StatusBadRequest, x.Err)
		case r.Method == http.MethodGet:
			json.NewEncoder(w).Encode(InstanceInfo{AppName: "Firecracker", ID: "fc-test", State: InstanceNotStarted, VMMVersion: "1.17.0-dev"})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// TestFakeRejectsInvalidBodies proves the validation is wired into the server the driver tests use:
// a body that breaks the description comes back as a 400 with the violation in fault_message.
func TestFakeRejectsInvalidBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path string
		body               any
		want               string
	}{
		{"missing kernel", http.MethodPut, "/boot-source", map[string]any{"boot_args": "x"}, `missing required property "kernel_image_path"`},
		{"vcpus as string", http.MethodPut, "/machine-config", map[string]any{"vcpu_count": "2", "mem_size_mib": 512}, "want integer"},
		{"unknown action", http.MethodPut, "/actions", map[string]any{"action_type": "Reboot"}, "is not one of"},
		{"mem backend incomplete", http.MethodPut, "/snapshot/load", map[string]any{"snapshot_path": "/s", "mem_backend": map[string]any{"backend_type": "File"}}, `missing required property "backend_path"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			c := NewClient(serveUnix(t, newFakeFC(loadSpec(t), rec, "fc-test", nil)))
			err := c.do(t.Context(), tt.method, tt.path, tt.body, nil)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.FaultMessage, tt.want) {
				t.Fatalf("err = %v, want a 400 whose fault_message contains %q", err, tt.want)
			}
			if got := rec.all(); len(got) != 1 || got[0].Err == "" {
				t.Fatalf("recorded %+v, want one request marked invalid", got)
			}
		})
	}
}

func TestClientMapsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantFault  string
	}{
		{"fault message", 400, `{"fault_message":"Invalid kernel path"}`, 400, "Invalid kernel path"},
		{"server error", 500, `{"fault_message":"Internal error"}`, 500, "Internal error"},
		{"plain text", 400, "not json at all", 400, "not json at all"},
		{"empty body", 404, "", 404, "(no fault_message)"},
		{"json without fault", 400, `{"error":"x"}`, 400, `{"error":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			err := NewClient(sock).Action(t.Context(), ActionInstanceStart)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			want := APIError{Method: http.MethodPut, Path: "/actions", StatusCode: tt.wantStatus, FaultMessage: tt.wantFault}
			if *apiErr != want {
				t.Fatalf("err = %+v, want %+v", *apiErr, want)
			}
			if !strings.Contains(err.Error(), tt.wantFault) {
				t.Errorf("Error() = %q lacks the fault message", err.Error())
			}
		})
	}
}

func TestClientUnreachableSocket(t *testing.T) {
	t.Parallel()
	err := NewClient(filepath.Join(t.TempDir(), "missing.sock")).Pause(t.Context())
	var apiErr *APIError
	if err == nil || errors.As(err, &apiErr) || !strings.Contains(err.Error(), "missing.sock") {
		t.Fatalf("err = %v, want a transport error naming the socket", err)
	}
}
