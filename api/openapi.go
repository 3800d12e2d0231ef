package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openapiJSON is the OpenAPI 3 description of the REST API, kept beside the
// router; openapi_test.go holds it against every route of Handler.
//
//go:embed openapi.json
var openapiJSON []byte

// openapi serves the OpenAPI description (GET /v1/openapi.json). It needs
// no credentials.
func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openapiJSON)))
	h.Set("Cache-Control", "public, max-age=300")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(openapiJSON)
}
