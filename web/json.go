package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"time"

	"github.com/polydev/polydev"
)

// decodeJSON reads exactly one JSON object from the body into v, within the body limit, refusing
// unknown fields and trailing data so that typos fail loudly instead of being ignored.
//
// The body must arrive within BodyReadTimeout: the read deadline is set for the body and cleared
// after it (a deadline left behind would cut a streamed answer, since net/http's background read
// cancels the request when it fires).
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout)); err == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	defer bodyPhase(r.Context())() // a body that trickles in may be displaced at the connection cap
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, s.cfg.MaxBodyBytes)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if e := jsonError(err, s.cfg.MaxBodyBytes); polydev.ErrorCode(e) == polydev.ETOOLARGE {
				return e
			}
		}
		return polydev.Errorf(polydev.EINVALID, "request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error, limit int64) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		unknown = "json: unknown field "
	)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return polydev.Errorf(polydev.EINVALID, "request body was not received in time")
	case errors.As(err, &tooBig):
		return polydev.Errorf(polydev.ETOOLARGE, "request body is larger than %d bytes", limit)
	case errors.Is(err, io.EOF):
		return polydev.Errorf(polydev.EINVALID, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return polydev.Errorf(polydev.EINVALID, "request body is truncated JSON")
	case errors.As(err, &syntax):
		return polydev.Errorf(polydev.EINVALID, "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return polydev.Errorf(polydev.EINVALID, "request body must be a JSON object")
		}
		t := typ.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return polydev.Errorf(polydev.EINVALID, "field %q must be %s", typ.Field, jsonKind(t.Kind()))
	case len(err.Error()) > len(unknown) && err.Error()[:len(unknown)] == unknown:
		return polydev.Errorf(polydev.EINVALID, "unknown field %s", err.Error()[len(unknown):])
	default:
		return polydev.Wrap(polydev.EINVALID, err, "request body could not be read")
	}
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "an integer"
	}
}

// writeJSON writes v with status. API responses are never cached.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
