package firecracker

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestValidatorRejectsWhatFirecrackerRejects proves the schema check has teeth: if it accepted
// everything, the driver sequence tests below would prove nothing.
func TestValidatorRejectsWhatFirecrackerRejects(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	const js = "application/json"
	tests := []struct {
		name         string
		method, path string
		contentType  string
		body         string
		wantErr      string // substring; empty means the request is valid
	}{
		{"valid boot source", "PUT", "/boot-source", js, `{"kernel_image_path":"/k","boot_args":"console=ttyS0"}`, ""},
		{"valid machine config", "PUT", "/machine-config", js, `{"vcpu_count":2,"mem_size_mib":1024}`, ""},
		{"valid drive", "PUT", "/drives/rootfs", js, `{"drive_id":"rootfs","path_on_host":"/r","is_root_device":true,"is_read_only":true}`, ""},
		{"valid load with nested backend", "PUT", "/snapshot/load", js, `{"snapshot_path":"/s","mem_backend":{"backend_type":"File","backend_path":"/m"},"network_overrides":[{"iface_id":"eth0","host_dev_name":"tap0"}]}`, ""},
		{"valid describe", "GET", "/", "", ``, ""},
		{"charset in content type", "PATCH", "/vm", js + "; charset=utf-8", `{"state":"Paused"}`, ""},

		{"missing required field", "PUT", "/boot-source", js, `{"boot_args":"console=ttyS0"}`, `missing required property "kernel_image_path"`},
		{"missing required drive field", "PUT", "/drives/rootfs", js, `{"drive_id":"rootfs","path_on_host":"/r"}`, `missing required property "is_root_device"`},
		{"integer as string", "PUT", "/machine-config", js, `{"vcpu_count":"2","mem_size_mib":1024}`, "want integer, got a string"},
		{"fractional integer", "PUT", "/machine-config", js, `{"vcpu_count":2.5,"mem_size_mib":1024}`, "not an integer"},
		{"below minimum", "PUT", "/machine-config", js, `{"vcpu_count":0,"mem_size_mib":1024}`, "below the minimum"},
		{"above maximum", "PUT", "/machine-config", js, `{"vcpu_count":33,"mem_size_mib":1024}`, "above the maximum"},
		{"boolean as string", "PUT", "/drives/rootfs", js, `{"drive_id":"rootfs","path_on_host":"/r","is_root_device":"true","is_read_only":true}`, "want a boolean"},
		{"enum violated", "PUT", "/actions", js, `{"action_type":"Reboot"}`, `"Reboot" is not one of`},
		{"enum via $ref violated", "PUT", "/machine-config", js, `{"vcpu_count":1,"mem_size_mib":128,"cpu_template":"Z9"}`, `"Z9" is not one of`},
		{"vm state enum", "PATCH", "/vm", js, `{"state":"Stopped"}`, "is not one of"},
		{"unknown property", "PUT", "/drives/rootfs", js, `{"drive_id":"rootfs","path_on_host":"/r","is_root_device":true,"is_read_only":true,"readonly":true}`, `property "readonly" is not in the schema`},
		{"nested $ref missing field", "PUT", "/snapshot/load", js, `{"snapshot_path":"/s","mem_backend":{"backend_type":"File"}}`, `body.mem_backend: missing required property "backend_path"`},
		{"nested enum", "PUT", "/snapshot/load", js, `{"snapshot_path":"/s","mem_backend":{"backend_type":"Disk","backend_path":"/m"}}`, "is not one of"},
		{"array item missing field", "PUT", "/snapshot/load", js, `{"snapshot_path":"/s","mem_file_path":"/m","network_overrides":[{"iface_id":"eth0"}]}`, `network_overrides[0]: missing required property "host_dev_name"`},
		{"array expected", "PUT", "/snapshot/load", js, `{"snapshot_path":"/s","mem_file_path":"/m","network_overrides":{"iface_id":"eth0"}}`, "want an array"},
		{"null value", "PUT", "/boot-source", js, `{"kernel_image_path":null}`, "null is not allowed"},
		{"body not an object", "PUT", "/actions", js, `["InstanceStart"]`, "want an object"},
		{"required body missing", "PUT", "/actions", js, ``, "the body is required"},
		{"body where none is taken", "GET", "/", js, `{"x":1}`, "takes no body"},
		{"not json", "PUT", "/actions", js, `{"action_type":`, "not one JSON value"},
		{"trailing data", "PUT", "/actions", js, `{"action_type":"InstanceStart"} {}`, "trailing data"},
		{"wrong content type", "PUT", "/actions", "text/plain", `{"action_type":"InstanceStart"}`, "Content-Type"},
		{"unknown path", "PUT", "/drive/rootfs", js, `{}`, "no path of the API matches"},
		{"missing path parameter", "PUT", "/drives/", js, `{}`, "no path of the API matches"},
		{"method not in spec", "DELETE", "/drives/rootfs", "", ``, "not an operation"},
		{"path id differs from body id", "PUT", "/drives/rootfs", js, `{"drive_id":"other","path_on_host":"/r","is_root_device":true,"is_read_only":true}`, "path drive_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := spec.validateRequest(tt.method, tt.path, tt.contentType, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("valid request rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validateRequest = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestSpecHasEveryDriverOperation ties the driver's vocabulary to the description: if a future
// Firecracker renamed an endpoint, this fails before any sequence test does.
func TestSpecHasEveryDriverOperation(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	ops := []struct{ method, path, definition string }{
		{http.MethodPut, "/machine-config", "MachineConfiguration"},
		{http.MethodPut, "/boot-source", "BootSource"},
		{http.MethodPut, "/drives/{drive_id}", "Drive"},
		{http.MethodPut, "/network-interfaces/{iface_id}", "NetworkInterface"},
		{http.MethodPut, "/actions", "InstanceActionInfo"},
		{http.MethodPatch, "/vm", "Vm"},
		{http.MethodPut, "/snapshot/create", "SnapshotCreateParams"},
		{http.MethodPut, "/snapshot/load", "SnapshotLoadParams"},
		{http.MethodGet, "/", ""},
	}
	for _, op := range ops {
		o := spec.Paths[op.path][strings.ToLower(op.method)]
		if o == nil {
			t.Errorf("%s %s is not in %s", op.method, op.path, spec.path)
			continue
		}
		if op.definition == "" {
			continue
		}
		var ref string
		for _, p := range o.Parameters {
			if p.In == "body" && p.Schema != nil {
				ref = p.Schema.Ref
			}
		}
		if ref != "#/definitions/"+op.definition {
			t.Errorf("%s %s body is %q, the driver sends %s", op.method, op.path, ref, op.definition)
		}
	}
	for _, enum := range []struct {
		def, prop string
		values    []string
	}{
		{"InstanceActionInfo", "action_type", []string{string(ActionInstanceStart), string(ActionSendCtrlAltDel), string(ActionFlushMetrics)}},
		{"Vm", "state", []string{string(VMPaused), string(VMResumed)}},
		{"SnapshotCreateParams", "snapshot_type", []string{SnapshotFull, SnapshotDiff}},
		{"MemoryBackend", "backend_type", []string{BackendFile, BackendUffd}},
		{"InstanceInfo", "state", []string{InstanceNotStarted, InstanceRunning, InstancePaused}},
	} {
		got := spec.Definitions[enum.def].Properties[enum.prop].Enum
		for _, v := range enum.values {
			if !slices.Contains(got, v) {
				t.Errorf("%s.%s enum %v lacks the driver's %q", enum.def, enum.prop, got, v)
			}
		}
	}
}
