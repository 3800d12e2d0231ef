package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"
)

// The OpenAPI description (openapi.json) is held against the router here:
// every route of Handler is described, every described operation is
// routed, the document is well formed, and its shapes have the JSON
// fields of the handlers' types.

// openapiDoc is openapi.json decoded.
func openapiDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// testRouter is the router of an API without stores: enough to walk it and
// to serve the routes that need none.
func testRouter(t *testing.T) http.Handler {
	t.Helper()
	return New(Config{
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PasswordCost: bcrypt.MinCost,
	}).Handler()
}

// route is an operation: a method and a path template as OpenAPI writes it.
type route struct{ method, path string }

func (r route) String() string { return r.method + " " + r.path }

// chiParam matches a chi URL parameter, with an optional regexp.
var chiParam = regexp.MustCompile(`\{([^}:]+)(:[^}]*)?\}`)

// normalisePattern turns a chi pattern into an OpenAPI path template:
// subrouter artefacts (/*/ and a trailing /*) and a trailing slash go,
// {id:regexp} becomes {id}.
func normalisePattern(p string) string {
	p = strings.ReplaceAll(p, "/*/", "/")
	p = strings.TrimSuffix(p, "/*")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "" {
		p = "/"
	}
	return chiParam.ReplaceAllString(p, "{$1}")
}

// routerRoutes walks the router for every (method, path).
func routerRoutes(t *testing.T, h http.Handler) map[route]bool {
	t.Helper()
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("Handler() is a %T, not a chi.Routes", h)
	}
	out := map[route]bool{}
	err := chi.Walk(routes, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out[route{strings.ToUpper(method), normalisePattern(pattern)}] = true
		return nil
	})
	if err != nil {
		t.Fatalf("walk the router: %v", err)
	}
	return out
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations lists the operations of doc by (method, path).
func operations(doc map[string]any) map[route]map[string]any {
	out := map[route]map[string]any{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out[route{strings.ToUpper(m), path}] = op
			}
		}
	}
	return out
}

// routeMismatches compares the router's routes with the described ones.
func routeMismatches(routes map[route]bool, doc map[string]any) []string {
	var out []string
	described := operations(doc)
	for r := range routes {
		if described[r] == nil {
			out = append(out, fmt.Sprintf("route %s is not described in openapi.json", r))
		}
	}
	for r := range described {
		if !routes[r] {
			out = append(out, fmt.Sprintf("openapi.json describes %s, which the router does not have", r))
		}
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := openapiDoc(t)
	routes := routerRoutes(t, testRouter(t))
	if len(routes) < 20 {
		t.Fatalf("walked only %d routes: %v", len(routes), routes)
	}
	for _, m := range routeMismatches(routes, doc) {
		t.Error(m)
	}
}

// TestOpenAPIRouteCheckBites makes sure the comparison is not vacuous: a
// description missing any one path is caught.
func TestOpenAPIRouteCheckBites(t *testing.T) {
	routes := routerRoutes(t, testRouter(t))
	paths := openapiDoc(t)["paths"].(map[string]any)
	for path := range paths {
		doc := openapiDoc(t)
		delete(doc["paths"].(map[string]any), path)
		if len(routeMismatches(routes, doc)) == 0 {
			t.Errorf("without %s the description still matches the router", path)
		}
	}
	// And a route the description lacks.
	routes[route{"GET", "/v1/not-described"}] = true
	if len(routeMismatches(routes, openapiDoc(t))) == 0 {
		t.Error("an undescribed route is not caught")
	}
}

func TestOpenAPIWellFormed(t *testing.T) {
	doc := openapiDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want 3.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil || info["title"] == nil || info["version"] == nil {
		t.Errorf("info = %v, want title and version", info)
	}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)

	checkSecurity := func(where string, v any) {
		reqs, ok := v.([]any)
		if !ok {
			t.Errorf("%s: security is %T, want an array", where, v)
			return
		}
		for _, req := range reqs {
			for name := range req.(map[string]any) {
				if schemes[name] == nil {
					t.Errorf("%s: security scheme %q is not in components.securitySchemes", where, name)
				}
			}
		}
	}
	if s, ok := doc["security"]; ok {
		checkSecurity("top level", s)
	}

	ids := map[string]route{}
	for r, op := range operations(doc) {
		id, _ := op["operationId"].(string)
		switch prev, dup := ids[id]; {
		case id == "":
			t.Errorf("%s has no operationId", r)
		case dup:
			t.Errorf("operationId %q is used by %s and %s", id, prev, r)
		default:
			ids[id] = r
		}
		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s has no responses", r)
		}
		for code, resp := range responses {
			if !regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`).MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", r, code)
			}
			resp, _ := resp.(map[string]any)
			if resp["$ref"] == nil && resp["description"] == nil {
				t.Errorf("%s: response %s has no description", r, code)
			}
		}
		if s, ok := op["security"]; ok {
			checkSecurity(r.String(), s)
		}
		// Path parameters: exactly the template's.
		want := map[string]bool{}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(r.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		item := paths[r.path].(map[string]any)
		for _, list := range []any{item["parameters"], op["parameters"]} {
			list, _ := list.([]any)
			for _, p := range list {
				p := resolve(t, doc, p)
				if p["in"] == "path" {
					name, _ := p["name"].(string)
					got[name] = true
					if p["required"] != true {
						t.Errorf("%s: path parameter %q must be required", r, name)
					}
				}
			}
		}
		if !maps.Equal(want, got) {
			t.Errorf("%s: path parameters %v, want %v", r, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}

	// Every $ref points into components, at something that exists.
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/components/") {
					t.Errorf("%s: $ref %q is not under #/components/", where, ref)
				} else if _, ok := pointer(doc, ref); !ok {
					t.Errorf("%s: $ref %q resolves to nothing", where, ref)
				}
			}
			for k, e := range v {
				walk(where+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", where, i), e)
			}
		}
	}
	walk("#", doc)
}

// pointer follows a local JSON pointer ("#/a/b") in doc.
func pointer(doc map[string]any, ref string) (any, bool) {
	var v any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// resolve follows v's $ref, if any.
func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for m != nil && m["$ref"] != nil {
		target, ok := pointer(doc, m["$ref"].(string))
		if !ok {
			t.Fatalf("$ref %v resolves to nothing", m["$ref"])
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// jsonFields returns the JSON field names of a struct type, and which of
// them are omitted when empty.
func jsonFields(typ reflect.Type) (fields, omitempty map[string]bool) {
	fields, omitempty = map[string]bool{}, map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = true
		if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			omitempty[name] = true
		}
	}
	return fields, omitempty
}

// TestOpenAPIShapes checks that each schema has exactly the JSON fields of
// the Go type the handlers encode or decode, and that a response schema
// requires every field the encoder always writes.
func TestOpenAPIShapes(t *testing.T) {
	doc := openapiDoc(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	errorInner := reflect.TypeFor[errorBody]().Field(0).Type
	cases := []struct {
		schema   string
		typ      reflect.Type
		response bool     // encoded by the server: check required too
		skip     []string // fields of the type the schema leaves out on purpose
	}{
		{"User", reflect.TypeFor[userJSON](), true, nil},
		{"AuthResponse", reflect.TypeFor[authResponse](), true, nil},
		{"Document", reflect.TypeFor[documentJSON](), true, nil},
		{"Op", reflect.TypeFor[opJSON](), true, nil},
		{"Member", reflect.TypeFor[memberJSON](), true, nil},
		{"Token", reflect.TypeFor[tokenJSON](), true, []string{"token"}},
		{"CreatedToken", reflect.TypeFor[tokenJSON](), false, []string{"last_used"}},
		{"DocumentList", reflect.TypeFor[listJSON[documentJSON]](), true, nil},
		{"OpList", reflect.TypeFor[listJSON[opJSON]](), true, nil},
		{"MemberList", reflect.TypeFor[listJSON[memberJSON]](), true, nil},
		{"TokenList", reflect.TypeFor[listJSON[tokenJSON]](), true, nil},
		{"Error", reflect.TypeFor[errorBody](), true, nil},
		{"SignupRequest", reflect.TypeFor[signupRequest](), false, nil},
		{"LoginRequest", reflect.TypeFor[loginRequest](), false, nil},
		{"CreateTokenRequest", reflect.TypeFor[createTokenRequest](), false, nil},
		{"CreateDocumentRequest", reflect.TypeFor[createDocumentRequest](), false, nil},
		{"RenameRequest", reflect.TypeFor[renameRequest](), false, nil},
		{"SubmitRequest", reflect.TypeFor[submitRequest](), false, nil},
		{"RestoreRequest", reflect.TypeFor[restoreRequest](), false, nil},
		{"SetMemberRequest", reflect.TypeFor[setMemberRequest](), false, nil},
	}
	check := func(name string, schema map[string]any, typ reflect.Type, response bool, skip []string) {
		if schema == nil {
			t.Errorf("no schema %s", name)
			return
		}
		fields, omitempty := jsonFields(typ)
		for _, s := range skip {
			delete(fields, s)
		}
		props, _ := schema["properties"].(map[string]any)
		got := slices.Sorted(maps.Keys(props))
		if want := slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %v; %v has JSON fields %v", name, got, typ, want)
		}
		if !response {
			return
		}
		required := map[string]bool{}
		list, _ := schema["required"].([]any)
		for _, r := range list {
			required[r.(string)] = true
		}
		for f := range fields {
			if required[f] == omitempty[f] {
				t.Errorf("schema %s: %q required=%v, but the encoder omits it when empty=%v", name, f, required[f], omitempty[f])
			}
		}
	}
	for _, c := range cases {
		schema, _ := schemas[c.schema].(map[string]any)
		check(c.schema, schema, c.typ, c.response, c.skip)
	}
	if e, _ := schemas["Error"].(map[string]any); e != nil {
		inner := resolve(t, doc, e["properties"].(map[string]any)["error"])
		check("Error.error", inner, errorInner, true, nil)
	}
	// The version answers of submit and restore, and the delta content.
	for name, fields := range map[string][]string{
		"VersionResponse": {"version"},
		"DeltaContent":    {"delta", "version"},
	} {
		props, _ := schemas[name].(map[string]any)["properties"].(map[string]any)
		if got := slices.Sorted(maps.Keys(props)); !slices.Equal(got, fields) {
			t.Errorf("schema %s has properties %v, want %v", name, got, fields)
		}
	}
}

// TestOpenAPIErrorCodes: the codes listed are exactly those of the status
// table in errors.go.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := openapiDoc(t)
	code, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)["ErrorCode"].(map[string]any)
	var got []string
	list, _ := code["enum"].([]any)
	for _, c := range list {
		got = append(got, c.(string))
	}
	slices.Sort(got)
	var want []string
	for c := range httpStatus {
		want = append(want, string(c))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum = %v, want the codes of httpStatus %v", got, want)
	}
}

// TestOpenAPIContentFormats: every format the content route serves is
// described.
func TestOpenAPIContentFormats(t *testing.T) {
	doc := openapiDoc(t)
	format := resolve(t, doc, map[string]any{"$ref": "#/components/parameters/Format"})
	described := map[string]bool{}
	enum, _ := format["schema"].(map[string]any)["enum"].([]any)
	for _, f := range enum {
		described[f.(string)] = true
	}
	for f := range exporters {
		if f != "" && !described[f] {
			t.Errorf("content format %q is served but not described", f)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	check := func(t *testing.T, h http.Handler) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /v1/openapi.json: %d %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if !json.Valid(rec.Body.Bytes()) || rec.Body.String() != string(openapiJSON) {
			t.Error("the body is not openapi.json")
		}
	}
	t.Run("handler", func(t *testing.T) {
		a := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordCost: bcrypt.MinCost})
		check(t, http.HandlerFunc(a.openapi))
	})
	t.Run("router", func(t *testing.T) {
		// Without credentials: the description is public.
		check(t, testRouter(t))
	})
}
