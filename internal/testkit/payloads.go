package testkit

import (
	"embed"
	"io/fs"
	"path"
)

// The recorded payloads travel inside the package so that any test in the
// module can use them without a relative path: parser tests in
// gateway/provider/... read the very bytes the fakes are checked against.
//
//go:embed testdata
var payloads embed.FS

// Payload returns a recorded wire payload by its path under testdata/, for
// example Payload("openai/chat_stream_text.sse"). It panics when there is
// no such file: a test that names a missing fixture is broken.
func Payload(name string) []byte {
	b, err := payloads.ReadFile(path.Join("testdata", name))
	if err != nil {
		panic("testkit: no recorded payload " + name)
	}
	return b
}

// PayloadNames lists the recorded payloads of a provider ("openai",
// "anthropic", "gemini"), as names Payload accepts.
func PayloadNames(provider Provider) []string {
	entries, err := fs.ReadDir(payloads, path.Join("testdata", string(provider)))
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, path.Join(string(provider), e.Name()))
		}
	}
	return names
}
