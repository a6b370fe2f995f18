package tools

import (
	"fmt"
	"time"
)

// Options configure the built-in tools.
type Options struct {
	// AllowPrivateNetworks lets http_get reach loopback, private, link-local and other
	// non-public addresses. Leave it off wherever an agent's input is untrusted: a model can be
	// talked into fetching cloud metadata or internal admin pages.
	AllowPrivateNetworks bool
	// HTTPTimeout bounds one http_get call, redirects included; default 10 s.
	HTTPTimeout time.Duration
	// MaxResponseBytes caps the body http_get reads; default 256 KiB.
	MaxResponseBytes int64
	// Now is the clock of current_time; default time.Now.
	Now func() time.Time
}

const (
	defaultHTTPTimeout      = 10 * time.Second
	defaultMaxResponseBytes = 256 << 10
)

func (o Options) withDefaults() Options {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = defaultHTTPTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = defaultMaxResponseBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Default returns a registry with the built-in tools: calculator, current_time and http_get.
func Default(opts Options) *Registry {
	opts = opts.withDefaults()
	r := NewRegistry()
	for _, t := range []Tool{calculatorTool(), currentTimeTool(opts), httpGetTool(opts, nil)} {
		// The built-in schemas are constants; failing here is a programming error that every
		// test run would catch, not a condition to handle at run time.
		if err := r.Register(t); err != nil {
			panic(fmt.Sprintf("tools: built-in tool: %v", err))
		}
	}
	return r
}
