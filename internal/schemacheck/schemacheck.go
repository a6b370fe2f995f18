// Package schemacheck checks JSON configs against JSON Schemas (draft 2020-12, formats
// asserted) and words what is wrong as field errors a person can act on: one per failed
// keyword, at its path inside the config ("url", "headers.X-Token", "items[2]"), sorted by
// path. Pipeline node configs and schedule action configs share it, so a client sees the same
// wording whichever it sends.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gathering/gathering/domain"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Options tune how a set of schemas is compiled and worded.
type Options struct {
	// BaseURI prefixes each schema's name to make the location the compiler knows it by
	// ("urn:gathering:pipeline-node:"); it shows only in compile errors.
	BaseURI string
	// OneOfMessages words a failed oneOf or anyOf at the root of the named schema, which the
	// library can only call "'oneOf' failed" ("needs exactly one of template or mapping").
	OneOfMessages map[string]string
}

// Schema is one compiled schema.
type Schema struct {
	source    json.RawMessage
	compiled  *jsonschema.Schema
	allowed   []string // the root's properties, sorted, to list when an unknown one is sent
	rootOneOf string
}

// Set is a named collection of compiled schemas; it is read-only once compiled.
type Set map[string]*Schema

// Compile compiles every source (name → schema text) once.
func Compile(sources map[string]string, opts Options) (Set, error) {
	set := Set{}
	for name, src := range sources {
		sch, err := compileOne(opts.BaseURI+name, src)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		sch.rootOneOf = opts.OneOfMessages[name]
		set[name] = sch
	}
	return set, nil
}

// MustCompile is Compile for schemas written in the code: one that does not compile is a bug
// the tests catch, hence the panic.
func MustCompile(sources map[string]string, opts Options) Set {
	set, err := Compile(sources, opts)
	if err != nil {
		panic("schemacheck: " + err.Error())
	}
	return set
}

func compileOne(loc, src string) (*Schema, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(src)); err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(compact.Bytes()))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	compiled, err := c.Compile(loc)
	if err != nil {
		return nil, err
	}
	var allowed []string
	if root, ok := doc.(map[string]any); ok {
		if props, ok := root["properties"].(map[string]any); ok {
			for p := range props {
				allowed = append(allowed, p)
			}
		}
	}
	slices.Sort(allowed)
	return &Schema{source: compact.Bytes(), compiled: compiled, allowed: allowed}, nil
}

// Check returns what is wrong with raw against the named schema; an unknown name is itself
// reported, at the config's root.
func (s Set) Check(name string, raw json.RawMessage) []domain.FieldError {
	sch, ok := s[name]
	if !ok {
		return []domain.FieldError{{Field: "", Message: fmt.Sprintf("no schema named %q", name)}}
	}
	return sch.Check(raw)
}

// Source returns the named schema's text, compacted (for clients that build forms).
func (s Set) Source(name string) (json.RawMessage, bool) {
	sch, ok := s[name]
	if !ok {
		return nil, false
	}
	return sch.Source(), true
}

// Source returns the schema's text, compacted; the caller may keep or change it.
func (s *Schema) Source() json.RawMessage { return bytes.Clone(s.source) }

// Check returns what is wrong with raw, nil when it conforms. An empty raw is read as {}, so
// an omitted config is checked like an empty object.
func (s *Schema) Check(raw json.RawMessage) []domain.FieldError {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []domain.FieldError{{Field: "", Message: "must be valid JSON"}}
	}
	err = s.compiled.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []domain.FieldError{{Field: "", Message: err.Error()}}
	}
	return s.fieldErrors(inst, ve)
}

// fieldErrors flattens a validation error tree into field errors, one per failed keyword at
// the leaves (the inner nodes only repeat them), sorted by field.
func (s *Schema) fieldErrors(inst any, ve *jsonschema.ValidationError) []domain.FieldError {
	var out []domain.FieldError
	add := func(field, format string, args ...any) {
		fe := domain.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
		if !slices.Contains(out, fe) {
			out = append(out, fe)
		}
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		at := InstancePath(inst, e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		// The causes of a failed oneOf are every branch's complaints, which contradict each
		// other; one sentence about the shapes helps more.
		case *kind.OneOf, *kind.AnyOf:
			msg := s.rootOneOf
			if msg == "" || at != "" {
				msg = "does not match any of the allowed shapes"
				if o, isOneOf := k.(*kind.OneOf); isOneOf && len(o.Subschemas) > 1 {
					msg = "matches more than one of the allowed shapes"
				}
			}
			add(at, "%s", msg)
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				add(JoinPath(at, m), "is required")
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				if at == "" && len(s.allowed) > 0 {
					add(JoinPath(at, p), "unknown property; allowed: %s", strings.Join(s.allowed, ", "))
				} else {
					add(JoinPath(at, p), "unknown property")
				}
			}
		default:
			add(at, "%s", describeViolation(k))
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

var printer = message.NewPrinter(language.English)

// describeViolation words one failed keyword for a person.
func describeViolation(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = withArticle(w)
		}
		return fmt.Sprintf("must be %s (got %s)", strings.Join(want, " or "), withArticle(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonText(w)
		}
		return fmt.Sprintf("must be one of %s (got %s)", strings.Join(want, ", "), jsonText(k.Got))
	case *kind.Const:
		return fmt.Sprintf("must be %s (got %s)", jsonText(k.Want), jsonText(k.Got))
	case *kind.Format:
		return fmt.Sprintf("must be a valid %s (got %s)", k.Want, jsonText(k.Got))
	case *kind.Pattern:
		return fmt.Sprintf("must match %s (got %q)", k.Want, k.Got)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s (got %s)", ratText(k.Want), ratText(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s (got %s)", ratText(k.Want), ratText(k.Got))
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters (got %d)", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("needs at least %d entries (got %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("allows at most %d entries (got %d)", k.Want, k.Got)
	case *kind.MinItems:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("needs at least %d items (got %d)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("allows at most %d items (got %d)", k.Want, k.Got)
	}
	return k.LocalizedString(printer)
}

// withArticle turns a JSON type name into words: "an object", "a string", "null".
func withArticle(t string) string {
	switch t {
	case "null":
		return t
	case "object", "array", "integer":
		return "an " + t
	}
	return "a " + t
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ratText(r interface{ FloatString(int) string }) string {
	s := r.FloatString(6)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

// InstancePath renders a JSON pointer's tokens as a field path, walking the instance to tell
// array indexes ("[0]") from object keys (".key"), which a pointer writes alike.
func InstancePath(inst any, tokens []string) string {
	var b strings.Builder
	cur := inst
	for _, t := range tokens {
		switch x := cur.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(x) {
				cur = x[i]
			} else {
				cur = nil
			}
		case map[string]any:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
			cur = x[t]
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
			cur = nil
		}
	}
	return b.String()
}

// JoinPath appends an object key to a field path; the root's path is empty.
func JoinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}
