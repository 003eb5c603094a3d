package providerkeys

import "encoding/json"

// Opt is a JSON field that distinguishes "absent" (Set false: leave as is) from "null" (Set true,
// Value nil: clear) and a value. PATCH requests need all three.
type Opt[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the field was present.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// Of returns a present Opt holding v.
func Of[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: &v} }
