package store

// ForgetLoadData forgets what the process found out about LOCAL INFILE, and
// returns a function that puts it back.
func ForgetLoadData() (restore func()) {
	prev := loadState.Load()
	loadState.Store(loadUnknown)
	return func() { loadState.Store(prev) }
}
