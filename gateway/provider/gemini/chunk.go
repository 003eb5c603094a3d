package gemini

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
)

// chunk is one streamed GenerateContentResponse as the decoder needs it, read without
// reflection (function calls, prompt feedback and errors, which are rare, go through
// encoding/json).
type chunk struct {
	ResponseID, ModelVersion string
	Parts                    []part // candidates[0].content.parts
	Finish                   string // candidates[0].finishReason
	Usage                    wireUsage
	HasUsage                 bool
	BlockReason              string
	Error                    *wireError

	prompt, candidates int // storage for Usage's pointers
}

type part struct {
	Text    string
	Thought bool
	Call    *wireFunctionCall
}

type parser struct {
	sc jsonscan.Scanner
	c  chunk
}

func (p *parser) parse(data []byte, withMeta bool) error {
	sc := &p.sc
	sc.Reset(data)
	parts := p.c.Parts[:0]
	p.c = chunk{Parts: parts}
	c := &p.c
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		var err error
		switch string(key) {
		case "candidates":
			if sc.Null() {
				continue
			}
			sc.Array()
			for first := true; sc.Elem(); first = false {
				if !first {
					sc.Skip() // one candidate is asked for; others are ignored
					continue
				}
				err = p.candidate()
			}
		case "usageMetadata":
			if sc.Null() {
				continue
			}
			c.HasUsage = true
			p.usage()
		case "modelVersion":
			if withMeta {
				c.ModelVersion = sc.StringOrNull()
			} else {
				sc.Skip()
			}
		case "responseId":
			if withMeta {
				c.ResponseID = sc.StringOrNull()
			} else {
				sc.Skip()
			}
		case "promptFeedback":
			var fb *struct {
				BlockReason string `json:"blockReason"`
			}
			if err = rawInto(sc, &fb); err == nil && fb != nil {
				c.BlockReason = fb.BlockReason
			}
		case "error":
			err = rawInto(sc, &c.Error)
		default:
			sc.Skip()
		}
		if err != nil {
			return err
		}
	}
	return sc.End()
}

func rawInto[T any](sc *jsonscan.Scanner, dst **T) error {
	raw := sc.Skip()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	*dst = new(T)
	return json.Unmarshal(raw, *dst)
}

func (p *parser) candidate() error {
	sc, c := &p.sc, &p.c
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return sc.Err()
		}
		switch string(key) {
		case "finishReason":
			c.Finish = sc.StringOrNull()
		case "content":
			if sc.Null() || !sc.Object() {
				continue
			}
			for {
				ck, ok := sc.Key()
				if !ok {
					break
				}
				if string(ck) != "parts" || sc.Null() {
					sc.Skip()
					continue
				}
				sc.Array()
				for sc.Elem() {
					if err := p.part(); err != nil {
						return err
					}
				}
			}
		default:
			sc.Skip()
		}
	}
}

func (p *parser) part() error {
	sc := &p.sc
	var pt part
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "text":
			pt.Text = sc.StringOrNull()
		case "thought":
			if !sc.Null() {
				pt.Thought = sc.Bool()
			}
		case "functionCall":
			if err := rawInto(sc, &pt.Call); err != nil {
				return err
			}
		default:
			sc.Skip()
		}
	}
	p.c.Parts = append(p.c.Parts, pt)
	return sc.Err()
}

func (p *parser) usage() {
	sc, c := &p.sc, &p.c
	if !sc.Object() {
		return
	}
	u := &c.Usage
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		if sc.Null() {
			continue
		}
		switch string(key) {
		case "promptTokenCount":
			c.prompt = sc.Int()
			u.PromptTokenCount = &c.prompt
		case "candidatesTokenCount":
			c.candidates = sc.Int()
			u.CandidatesTokenCount = &c.candidates
		case "cachedContentTokenCount":
			u.CachedContentTokenCount = sc.Int()
		case "thoughtsTokenCount":
			u.ThoughtsTokenCount = sc.Int()
		case "toolUsePromptTokenCount":
			u.ToolUsePromptTokenCount = sc.Int()
		default:
			sc.Skip()
		}
	}
}
