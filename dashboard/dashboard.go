// Package dashboard embeds the web console that `gathering serve` serves at /.
package dashboard

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Files returns the console's files, rooted at its index.html.
func Files() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return sub
}
