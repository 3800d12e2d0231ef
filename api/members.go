package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/collabd/collabd/collab"
)

type memberJSON struct {
	User userJSON    `json:"user"`
	Role collab.Role `json:"role"`
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Viewer)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	members, err := a.docs.Members(r.Context(), id)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	out := listJSON[memberJSON]{Items: make([]memberJSON, 0, len(members))}
	for _, m := range members {
		out.Items = append(out.Items, memberJSON{User: toUserJSON(m.User), Role: m.Role})
	}
	writeJSON(w, http.StatusOK, out)
}

// member resolves the {user} (a username) of a members URL.
func (a *API) member(r *http.Request) (collab.User, error) {
	name := chi.URLParam(r, "user")
	u, _, err := a.users.UserByUsername(r.Context(), name)
	if errors.Is(err, collab.ErrNotFound) {
		return u, collab.Errorf(collab.NotFound, "no user %q", name)
	}
	return u, err
}

type setMemberRequest struct {
	Role collab.Role `json:"role"`
}

func (a *API) setMember(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Owner)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	var req setMemberRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if !req.Role.Valid() {
		writeError(w, r, a.logger, collab.Errorf(collab.Invalid, "role must be viewer, editor or owner"))
		return
	}
	u, err := a.member(r)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if err := a.notTheCreator(r, id, u, req.Role); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if err := a.docs.SetMember(r.Context(), id, u.ID, req.Role); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	// Live connections take the new role at once: a demoted editor's next
	// op is forbidden.
	a.sessions.SetRole(id, u.ID, req.Role)
	writeJSON(w, http.StatusOK, memberJSON{User: toUserJSON(u), Role: req.Role})
}

// notTheCreator refuses to demote or remove the document's creator, so
// every document keeps an owner.
func (a *API) notTheCreator(r *http.Request, id collab.DocumentID, u collab.User, role collab.Role) error {
	d, err := a.docs.Document(r.Context(), id)
	if err != nil {
		return err
	}
	if d.Owner == u.ID && role != collab.Owner {
		return collab.Errorf(collab.Invalid, "%s created this document and stays its owner", u.Username)
	}
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Owner)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	u, err := a.member(r)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if err := a.notTheCreator(r, id, u, ""); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if err := a.docs.RemoveMember(r.Context(), id, u.ID); err != nil {
		if errors.Is(err, collab.ErrNotFound) {
			err = collab.Errorf(collab.NotFound, "%s is not a member of this document", u.Username)
		}
		writeError(w, r, a.logger, err)
		return
	}
	a.sessions.Revoke(id, u.ID)
	w.WriteHeader(http.StatusNoContent)
}

type renameRequest struct {
	Title *string `json:"title"`
}

// renameDocument: only an owner renames (an owner also shares, renames and
// deletes); editors and viewers get 403.
func (a *API) renameDocument(w http.ResponseWriter, r *http.Request) {
	id, role, err := a.access(r, collab.Owner)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	var req renameRequest
	if err := decodeJSON(w, r, maxBody, &req); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if req.Title == nil {
		writeError(w, r, a.logger, collab.Errorf(collab.BadRequest, `send {"title": "..."}`))
		return
	}
	title := strings.TrimSpace(*req.Title)
	if err := validTitle(title); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	d, err := a.docs.RenameDocument(r.Context(), id, title)
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

func (a *API) deleteDocument(w http.ResponseWriter, r *http.Request) {
	id, _, err := a.access(r, collab.Owner)
	if err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	if err := a.docs.DeleteDocument(r.Context(), id); err != nil {
		writeError(w, r, a.logger, err)
		return
	}
	a.sessions.CloseDocument(id, collab.CloseDocumentGone, "document deleted")
	w.WriteHeader(http.StatusNoContent)
}
