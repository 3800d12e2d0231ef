package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/collabd/collabd/collab"
	"github.com/collabd/collabd/ot"
	"github.com/collabd/collabd/session"
)

// maxTitle bounds a document title, in characters.
const maxTitle = 200

// access checks that the caller may do what needs role on the document in
// the URL. A document the caller may not see is not found, as an unknown
// one is: existence is not revealed.
func (a *API) access(r *http.Request, need collab.Role) (collab.DocumentID, collab.Role, error) {
	id := collab.DocumentID(chi.URLParam(r, "id"))
	role, err := a.docs.Role(r.Context(), id, userFrom(r).ID)
	if err != nil {
		return id, "", err
	}
	if !role.Allows(need) {
		return id, role, collab.Errorf(collab.Forbidden, "a %s of this document may not do this; it takes an %s", role, need)
	}
	return id, role, nil
}

// documentJSON builds the REST view of a document for the caller's role.
func (a *API) documentJSON(r *http.Request, d collab.Document, role collab.Role, owners map[collab.UserID]userJSON) (documentJSON, error) {
	owner, ok := owners[d.Owner]
	if !ok {
		u, err := a.userCache.User(r.Context(), d.Owner)
		if err != nil {
			return documentJSON{}, err
		}
		owner = toUserJSON(u)
		owners[d.Owner] = owner
	}
	return documentJSON{ID: d.ID, Title: d.Title, Version: d.Version, Owner: owner, Role: role,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}, nil
}

type createDocumentRequest struct {
	Title   *string         `json:"title"`
	Content json.RawMessage `json:"content"`
	Text    *string         `json:"text"`
}

func validTitle(t string) error {
	if !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxTitle || strings.ContainsAny(t, "\x00\r\n") {
		return collab.Errorf(collab.Invalid, "title must be one line of at most %d characters", maxTitle)
	}
	return nil
}

func (a *API) createDocument(w http.ResponseWriter, r *http.Request) {
	var req createDocumentRequest
	if err := decodeJSON(w, r, a.maxDocBytes*2+maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	title := "Untitled"
	if req.Title != nil {
		title = strings.TrimSpace(*req.Title)
		if err := validTitle(title); err != nil {
			writeError(w, r, a.logger, err)
			return
		}
	}
	doc := ot.NewDoc()
	switch {
	case len(req.Content) > 0 && req.Text != nil:
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "give content or text, not both"))
		return
	case len(req.Content) > 0 && string(req.Content) != "null":
		d, err := ot.ParseDelta(req.Content)
		if err == nil {
			doc, err = ot.DocFromDelta(d)
		}
		if err != nil {
			writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "content is not a valid document: %v", err))
			return
		}
	case req.Text != nil:
		text := *req.Text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		d, err := ot.DocFromDelta(ot.Delta{ot.InsertText(text, nil)})
		if err != nil {
			writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "text: %v", err))
			return
		}
		doc = d
	}
	if int64(doc.Len()) > a.maxDocBytes {
		writeError(w, r, a.logger, collab.Errorf(collab.TooLarge, "content is longer than the limit of %d", a.maxDocBytes))
		return
	}
	user := userFrom(r)
	now := time.Now().UTC()
	d, err := a.docs.CreateDocument(r.Context(), collab.Document{
		ID: collab.DocumentID(collab.NewID()), Title: title, Owner: user.ID,
	}, collab.Snapshot{Version: 0, Doc: doc, CreatedAt: now})
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	out, err := a.documentJSON(r, d, collab.Owner, map[collab.UserID]userJSON{user.ID: toUserJSON(user)})
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *API) listDocuments(w http.ResponseWriter, r *http.Request) {
	page, err := pageParams(r, 50, 200)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	docs, next, err := a.docs.ListDocuments(r.Context(), userFrom(r).ID, page)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	out := listJSON[documentJSON]{Items: make([]documentJSON, 0, len(docs)), NextCursor: next}
	owners := map[collab.UserID]userJSON{}
	for _, d := range docs {
		j, err := a.documentJSON(r, d.Document, d.Role, owners)
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
		out.Items = append(out.Items, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getDocument(w http.ResponseWriter, r *http.Request) {
	id, role, err := a.access(r, collab.Viewer)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	d, err := a.docs.Document(r.Context(), id)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	out, err := a.documentJSON(r, d, role, map[collab.UserID]userJSON{})
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// versionParam reads ?name= as a version, def when absent.
func versionParam(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, collab.Errorf(collab.BadRequest, "%s must be a non-negative integer", name)
	}
	return v, nil
}

func (a *API) getContent(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Viewer)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	d, err := a.docs.Document(r.Context(), id)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	version, err := versionParam(r, "version", d.Version)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if version > d.Version {
		writeError(w, r, a.logger, collab.Errorf(collab.NotFound, "version %d does not exist yet; the document is at version %d", version, d.Version))
		return
	}
	format := r.URL.Query().Get("format")
	export, ok := exporters[format]
	if !ok {
		writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, "format must be delta, text, html or markdown"))
		return
	}
	doc, err := collab.DocAt(r.Context(), a.log, id, version)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	w.Header().Set("Document-Version", strconv.FormatInt(version, 10))
	export(w, version, doc)
}

// opJSON is an edit in the history.
type opJSON struct {
	Version   int64           `json:"version"`
	Delta     ot.Delta        `json:"delta"`
	Client    collab.ClientID `json:"client"`
	Seq       int64           `json:"seq"`
	User      userJSON        `json:"user"`
	CreatedAt time.Time       `json:"created_at"`
}

func (a *API) listOps(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Viewer)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	page, err := pageParams(r, 100, 1000)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	from, err := versionParam(r, "from", 1)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	to, err := versionParam(r, "to", 1<<62)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if from > to {
		writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, "from (%d) must not be greater than to (%d)", from, to))
		return
	}
	if page.Cursor != "" {
		// The cursor is the next version to read: opaque to clients.
		c, err := strconv.ParseInt(page.Cursor, 36, 64)
		if err != nil || c < 1 {
			writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, "cursor is not one this server gave"))
			return
		}
		from = c
	}
	from = max(from, 1)
	// One edit more than the page is read: there is a next page only if it
	// exists, so a page that ends at the last edit has no next_cursor.
	last := min(to, from+int64(page.Limit))
	out := listJSON[opJSON]{Items: []opJSON{}}
	if from <= last {
		edits, err := a.log.Edits(r.Context(), id, from, last)
		if err != nil {
			writeError(w, r, a.logger, err)
			return
		}
		more := len(edits) > page.Limit
		if more {
			edits = edits[:page.Limit]
		}
		users := map[collab.UserID]userJSON{}
		for _, e := range edits {
			u, ok := users[e.Author]
			if !ok {
				u = a.userJSONOf(r, e.Author)
				users[e.Author] = u
			}
			out.Items = append(out.Items, opJSON{Version: e.Version, Delta: e.Delta, Client: e.Client, Seq: e.Seq, User: u, CreatedAt: e.CreatedAt})
		}
		if more {
			out.NextCursor = strconv.FormatInt(edits[len(edits)-1].Version+1, 36)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// userJSONOf shows an author; one whose account is gone shows its id.
func (a *API) userJSONOf(r *http.Request, id collab.UserID) userJSON {
	u, err := a.userCache.User(r.Context(), id)
	if err != nil {
		return userJSON{ID: id, Username: string(id), Name: string(id), Color: collab.ColorFor(id)}
	}
	return toUserJSON(u)
}

type submitRequest struct {
	Version *int64          `json:"version"`
	Delta   json.RawMessage `json:"delta"`
}

func (a *API) submitOp(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Editor)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	var req submitRequest
	if err := decodeJSON(w, r, a.maxDocBytes*2+maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if req.Version == nil || *req.Version < 0 || len(req.Delta) == 0 {
		writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, `send {"version": the version the delta is based on, "delta": [...]}`))
		return
	}
	delta, err := ot.ParseDelta(req.Delta)
	if err != nil {
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "delta: %v", err))
		return
	}
	user := userFrom(r)
	v, err := a.sessions.Submit(r.Context(), id, session.Edit{
		Client: collab.ClientID("rest-" + collab.NewID()), Seq: 1, User: user.Info(),
		Base: *req.Version, Delta: delta,
	})
	if err != nil {
		err = fromSession(err)
		if collab.ErrorCode(err) == collab.VersionAhead {
			err = collab.Errorf(collab.Conflict, "%s", collab.UserMessage(err))
		}
		if collab.ErrorCode(err) == collab.InvalidOp {
			err = &collab.Error{Code: collab.Invalid, Message: collab.UserMessage(err), Err: err}
		}
		writeError(w, r, a.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": v})
}

// exporters render a document in each content format.
var exporters = map[string]func(w http.ResponseWriter, version int64, doc ot.Doc){
	"":      exportDelta,
	"delta": exportDelta,
	"text": func(w http.ResponseWriter, _ int64, doc ot.Doc) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(doc.Text()))
	},
	"html": func(w http.ResponseWriter, _ int64, doc ot.Doc) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		exportHTML(w, doc)
	},
	"markdown": func(w http.ResponseWriter, _ int64, doc ot.Doc) {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		exportMarkdown(w, doc)
	},
}

func exportDelta(w http.ResponseWriter, version int64, doc ot.Doc) {
	writeJSON(w, http.StatusOK, struct {
		Version int64  `json:"version"`
		Delta   ot.Doc `json:"delta"`
	}{version, doc})
}
