package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/collabd/collabd/collab"
)

// maxBody bounds a request body that is not a document's content.
const maxBody = 64 << 10

// decodeJSON reads a JSON body into v, strictly: one value, no unknown
// fields, at most limit bytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return collab.Errorf(collab.TooLarge, "request body is larger than %d bytes", limit)
		}
		if errors.Is(err, io.EOF) {
			return collab.Errorf(collab.BadRequest, "request body is empty; send a JSON object")
		}
		return collab.Errorf(collab.BadRequest, "request body is not valid JSON for this request: %s", jsonErrorText(err))
	}
	if dec.More() {
		return collab.Errorf(collab.BadRequest, "request body holds more than one JSON value")
	}
	return nil
}

// jsonErrorText is the decoder's message without Go type names.
func jsonErrorText(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return "field " + strconv.Quote(typeErr.Field) + " has the wrong type"
	}
	var userErr *collab.Error
	if errors.As(err, &userErr) {
		return userErr.Message
	}
	return err.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// userJSON is a user as the REST API shows it.
type userJSON struct {
	ID       collab.UserID `json:"id"`
	Username string        `json:"username"`
	Name     string        `json:"name"`
	Color    string        `json:"color"`
}

func toUserJSON(u collab.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Name: u.Name, Color: u.Color}
}

// documentJSON is a document as the REST API shows it.
type documentJSON struct {
	ID        collab.DocumentID `json:"id"`
	Title     string            `json:"title"`
	Version   int64             `json:"version"`
	Owner     userJSON          `json:"owner"`
	Role      collab.Role       `json:"role"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// pageParams reads limit and cursor; limit defaults to def and is capped
// at most.
func pageParams(r *http.Request, def, most int) (collab.Page, error) {
	p := collab.Page{Limit: def, Cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > most {
			return p, collab.Errorf(collab.BadRequest, "limit must be an integer from 1 to %d", most)
		}
		p.Limit = n
	}
	return p, nil
}

// listJSON is one page of a list.
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}
