// Package version says which build of Shelf is running: the release version
// (set at link time with -ldflags "-X github.com/shelfcommerce/shelf/internal/version.Version=v1.2.3",
// which `make build` does from `git describe`), the commit (likewise, or as
// the go command recorded it) and the Go release.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is the release, set at link time; "dev" for a plain `go build`.
var Version = "dev"

// Commit is the commit, set at link time by `make build` (a build with
// -buildvcs=false records none of its own); empty means take the one the
// go command recorded.
var Commit = ""

// Info is what a build knows about itself.
type Info struct {
	Version   string // release, or "dev"
	Commit    string // vcs.revision, with "-dirty" for uncommitted changes; "unknown" outside a checkout
	GoVersion string // runtime.Version()
}

var (
	once sync.Once
	info Info
)

// Get returns the running build's Info.
func Get() Info {
	once.Do(func() {
		info = Info{Version: Version, Commit: "unknown", GoVersion: runtime.Version()}
		if Commit != "" {
			info.Commit = Commit
		}
		bi, ok := debug.ReadBuildInfo()
		if !ok || Commit != "" {
			return
		}
		if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version // go install module@version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && info.Commit != "unknown" {
			info.Commit += "-dirty"
		}
	})
	return info
}

// String is the one line `shelf --version` prints.
func (i Info) String() string {
	return "shelf " + i.Version + " (commit " + i.Commit + ", " + i.GoVersion + ")"
}
