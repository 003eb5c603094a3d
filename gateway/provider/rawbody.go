package provider

// Len is the number of bytes the upstream receives: Body with the model splice applied.
func (r *RawRequest) Len() int {
	if r.ModelValue == nil {
		return len(r.Body)
	}
	return len(r.Body) - (r.ModelAt[1] - r.ModelAt[0]) + len(r.ModelValue)
}

// Parts are the slices the upstream receives, in order: Body alone, or the bytes before the
// model's value, the new value and the bytes after it. Sending the three slices as they are
// spares a copy of a prompt that may be hundreds of kilobytes.
func (r *RawRequest) Parts() [][]byte {
	if r.ModelValue == nil {
		return [][]byte{r.Body}
	}
	return [][]byte{r.Body[:r.ModelAt[0]], r.ModelValue, r.Body[r.ModelAt[1]:]}
}
