package web

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadAllSized(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 1000)
	for _, size := range []int64{-1, 0, 1, 9999, 10000, 10001, 1 << 30} {
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(body),
			"one byte": iotest.OneByteReader(bytes.NewReader(body)),
		} {
			got, err := readAllSized(r, size)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("size %d, %s: %d bytes, %v; want the %d-byte body", size, name, len(got), err, len(body))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readAllSized(iotest.ErrReader(boom), 10); err != boom {
		t.Errorf("err = %v, want the reader's", err)
	}
}
