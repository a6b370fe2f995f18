// Package dashboard embeds the web console that `gathering serve` serves at /: the React app in
// this folder (src/), built by Vite into dist/. `make run` rebuilds dist/ when Node is present;
// the committed build serves machines without Node. The end-to-end suite (e2e_test.go) always
// builds the sources afresh and drives them in Chromium.
package dashboard

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var files embed.FS

// Files returns the console's files, rooted at its index.html.
func Files() fs.FS {
	sub, err := fs.Sub(files, "dist")
	if err != nil {
		panic(err)
	}
	return sub
}
