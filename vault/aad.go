package vault

import (
	"encoding/binary"
	"errors"
	"math"
)

// AAD says where a ciphertext lives. It is authenticated, not encrypted: a
// value sealed for one (Table, Column, RowID, UserID) does not open under any
// other, which stops a database writer from moving ciphertexts between rows
// or users. Table and Column are required; RowID and UserID may be empty when
// the scope has none (a platform-wide secret has no user), but then the value
// is only bound as tightly as the fields given. RowID must be known before the
// insert, so use application-generated ids rather than autoincrement ones.
type AAD struct {
	Table, Column, RowID, UserID string
}

var errIncompleteAAD = errors.New("vault: AAD needs Table and Column")

// encode length-prefixes each field (uint32 big-endian) so no two different
// AADs share an encoding: {"a|b","c"} and {"a","b|c"} differ.
func (a AAD) encode() ([]byte, error) {
	if a.Table == "" || a.Column == "" {
		return nil, errIncompleteAAD
	}
	return appendFields(nil, a.Table, a.Column, a.RowID, a.UserID)
}

// ownerBinding is the associated data of a wrapped DEK: its owner id, encoded
// like an AAD field. The envelope kind byte keeps it apart from value AADs.
func ownerBinding(ownerID string) ([]byte, error) {
	if ownerID == "" {
		return nil, errors.New("vault: DEK owner id is empty")
	}
	return appendFields(nil, ownerID)
}

func appendFields(b []byte, fields ...string) ([]byte, error) {
	for _, f := range fields {
		if uint64(len(f)) > math.MaxUint32 {
			return nil, errors.New("vault: AAD field longer than 4 GiB")
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b, nil
}
