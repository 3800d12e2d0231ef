package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/collabd/collabd/ot"
)

// The REST catch-up. A client that comes back far behind with local edits
// pending gets the whole document in its welcome, not the edits it
// missed; its edits can be rebased only onto those, so it reads them from
// the document's history (GET /v1/documents/{id}/ops), as the browser
// client does. Only if that fails are its edits dropped.

const (
	catchUpPage     = 1000      // edits per request: the most the server gives
	maxCatchUpEdits = 1_000_000 // more is cheaper to lose than to hold in memory
	maxPageBytes    = readLimit // of one page's body
)

// opsURL is the REST history of the document whose live endpoint is u:
// ws(s)://host/v1/documents/{id}/live → http(s)://host/v1/documents/{id}/ops,
// keeping an access_token query parameter (the server takes it on REST
// too). It is "" when u does not end in /live.
func opsURL(u *url.URL) string {
	path, ok := strings.CutSuffix(u.Path, "/live")
	if !ok {
		return ""
	}
	out := *u
	out.Scheme = map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	out.Path, out.RawPath = path+"/ops", ""
	out.RawQuery, out.Fragment = "", ""
	if t := u.Query().Get("access_token"); t != "" {
		out.RawQuery = url.Values{"access_token": {t}}.Encode()
	}
	return out.String()
}

// catchUp completes a welcome w that brought a snapshot while local edits
// were pending (onWelcome left it in cn.catchUp): it fetches the edits
// from the client's version to the snapshot's without holding mu, then
// replays them like a welcome's ops, or else takes the snapshot and drops
// the edits. The connection is not read meanwhile; messages wait in it.
// It fails only when the client is closing.
func (c *Client) catchUp(cn *conn, w *welcome) (welcomed bool, err error) {
	c.mu.Lock()
	from := c.st.version + 1 // only this goroutine moves the version
	c.mu.Unlock()
	edits, fetchErr := c.fetchEdits(from, w.version)
	if err := c.ctx.Err(); err != nil {
		return false, fmt.Errorf("catch-up: %w", err)
	}
	c.mu.Lock()
	notes, err := c.replayLocked(cn, edits, fetchErr, *w.doc, w.version)
	if err != nil {
		c.log.Warn("catch-up through REST failed", "from", from, "to", w.version, "err", err)
		notes = c.onSnapshot(*w.doc, w.version, fmt.Errorf("%w: the catch-up through REST failed: %w", ErrEditsDropped, err), nil)
	}
	notes = c.welcomedLocked(cn, w, notes)
	return c.settleLocked(cn, notes), nil
}

// replayLocked applies the fetched edits as a welcome's ops (our own
// in-flight op among them is its ack) and checks that they lead to the
// snapshot. If anything is amiss it changes nothing and says why.
func (c *Client) replayLocked(cn *conn, edits []edit, fetchErr error, snapshot ot.Doc, version int64) ([]func(), error) {
	if fetchErr != nil {
		return nil, fetchErr
	}
	saved, savedSelection := c.st, c.selection
	undo := func(err error) ([]func(), error) {
		c.st, c.selection = saved, savedSelection
		return nil, err
	}
	var notes []func()
	for i := range edits {
		e := &edits[i]
		if e.version != c.st.version+1 {
			return undo(fmt.Errorf("edit %d of the history, want %d", e.version, c.st.version+1))
		}
		var err error
		if notes, err = c.applyEdit(cn, e, notes); err != nil {
			return undo(err)
		}
	}
	if c.st.version != version {
		return undo(fmt.Errorf("the history reaches version %d, the snapshot is %d", c.st.version, version))
	}
	want := snapshot
	if u := c.st.unacked(); u != nil {
		var err error
		if want, err = snapshot.Apply(u); err != nil {
			return undo(fmt.Errorf("the pending edits do not fit the snapshot: %w", err))
		}
	}
	if !ot.Equal(ot.Canonical(want.Delta()), ot.Canonical(c.st.doc.Delta())) {
		return undo(errors.New("the replayed history does not lead to the snapshot"))
	}
	c.log.Info("caught up through REST", "edits", len(edits), "version", version)
	return notes, nil
}

// fetchEdits reads edits from..to from the REST history, page by page,
// within CatchUpTimeout, authenticated as the handshake is (Header, or
// the URL's access_token). It holds no lock.
func (c *Client) fetchEdits(from, to int64) ([]edit, error) {
	switch {
	case c.opsURL == "":
		return nil, fmt.Errorf("no REST endpoint known for %s", c.opts.URL)
	case to < from-1:
		return nil, fmt.Errorf("the snapshot (version %d) is older than this client's version %d", to, from-1)
	case to-from+1 > maxCatchUpEdits:
		return nil, fmt.Errorf("%d edits behind, more than the %d a catch-up reads", to-from+1, maxCatchUpEdits)
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CatchUpTimeout)
	defer cancel()
	hc := c.opts.HTTPClient
	if hc == nil {
		t := c.transport()
		defer t.CloseIdleConnections()
		hc = &http.Client{Transport: t}
	}
	out := make([]edit, 0, min(to-from+1, catchUpPage)) // grows page by page: to-from may be large
	cursor := ""
	for int64(len(out)) < to-from+1 {
		u, err := url.Parse(c.opsURL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q.Set("from", strconv.FormatInt(from, 10))
		q.Set("to", strconv.FormatInt(to, 10))
		q.Set("limit", strconv.Itoa(catchUpPage))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		u.RawQuery = q.Encode()
		page, next, err := c.fetchPage(ctx, hc, u.String())
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if want := from + int64(len(out)); e.version != want || e.version > to {
				return nil, fmt.Errorf("GET %s: edit %d, want %d (up to %d)", u.Path, e.version, want, to)
			}
			out = append(out, e)
		}
		if int64(len(out)) < to-from+1 && (next == "" || len(page) == 0) {
			return nil, fmt.Errorf("GET %s: the history ends at version %d, want %d", u.Path, from+int64(len(out))-1, to)
		}
		cursor = next
	}
	return out, nil
}

// fetchPage GETs one page of the history.
func (c *Client) fetchPage(ctx context.Context, hc *http.Client, u string) (edits []edit, next string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", fmt.Errorf("catch-up: %w", err)
	}
	req.Header = c.opts.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		// A *url.Error's text holds the whole URL, access_token included:
		// name only the path, as the other errors here do.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return nil, "", fmt.Errorf("GET %s: HTTP %d: %s", req.URL.Path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var body struct {
		Items      []editWire `json:"items"`
		NextCursor string     `json:"next_cursor"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	if len(raw) > maxPageBytes {
		return nil, "", fmt.Errorf("GET %s: a page over %d bytes", req.URL.Path, maxPageBytes)
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, "", fmt.Errorf("GET %s: %w: %v", req.URL.Path, ErrProtocol, err)
	}
	edits = make([]edit, len(body.Items))
	for i, w := range body.Items {
		if edits[i], err = parseEdit(w); err != nil {
			return nil, "", fmt.Errorf("GET %s: item %d: %w", req.URL.Path, i, err)
		}
	}
	return edits, body.NextCursor, nil
}

// transport reaches the server as the WebSocket dialer does: its proxy,
// TLS configuration and dial function.
func (c *Client) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &c.dialer
	if d.Proxy != nil {
		t.Proxy = d.Proxy
	}
	if d.TLSClientConfig != nil {
		t.TLSClientConfig = d.TLSClientConfig.Clone()
	}
	switch {
	case d.NetDialContext != nil:
		t.DialContext = d.NetDialContext
	case d.NetDial != nil:
		dial := d.NetDial
		t.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
	}
	if d.NetDialTLSContext != nil {
		t.DialTLSContext = d.NetDialTLSContext
	}
	return t
}
