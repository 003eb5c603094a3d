package vault_test

import (
	"fmt"
	"log"

	"github.com/polydev/polydev/vault"
)

func Example() {
	kr, err := vault.LoadKeyring("v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		log.Fatal(err)
	}
	// At sign-up: a data key for the user, stored wrapped in the users row.
	dek, wrapped, _, err := kr.WrapDEK("user-42")
	if err != nil {
		log.Fatal(err)
	}
	where := vault.AAD{Table: "provider_keys", Column: "api_key", RowID: "pk-7", UserID: "user-42"}
	env, err := vault.Seal(dek, 1, where, []byte("sk-live-abc"))
	if err != nil {
		log.Fatal(err)
	}
	clear(dek)

	// Later, on another request: unwrap the user's key, open the value.
	dek, err = kr.UnwrapDEK("user-42", wrapped)
	if err != nil {
		log.Fatal(err)
	}
	defer clear(dek)
	plaintext, err := vault.Open(dek, where, env)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(plaintext))
	// Output: sk-live-abc
}
