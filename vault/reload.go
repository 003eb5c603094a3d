package vault

// ReloadFile replaces the keyring's versions with those in the key file at path, so that a running
// server picks up a rotation or retirement that `polydev keys` made on disk. It reports whether the
// set of versions changed.
func (kr *Keyring) ReloadFile(path string) (changed bool, err error) {
	keys, err := readKeyFile(path)
	if err != nil {
		return false, err
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if sameKeys(keys, kr.keys) {
		clearKeys(keys)
		return false, nil
	}
	clearKeys(kr.keys)
	kr.keys = keys
	kr.active = 0
	for v := range keys {
		kr.active = max(kr.active, v)
	}
	return true, nil
}
