package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/collabd/collabd/ot"
)

// restClient speaks the REST API as the one bench user: it owns every
// document, so every editor connection may join (only the owner is a
// member until a members API lands).
type restClient struct {
	base  *url.URL // http://host:port
	token string
	http  *http.Client
}

func newRESTClient(server string) (*restClient, error) {
	u, err := url.Parse(strings.TrimSuffix(server, "/"))
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http://host:port", server)
	}
	return &restClient{base: u, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// liveURL is the WebSocket address of a document.
func (rc *restClient) liveURL(doc string) string {
	u := *rc.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = "/v1/documents/" + url.PathEscape(doc) + "/live"
	return u.String()
}

func (rc *restClient) authHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + rc.token}}
}

// apiError is a REST error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends a JSON request and decodes a 2xx answer into out. A 429
// answer (the server limits requests per user and per IP address) is
// retried after its Retry-After, for up to restRetries times.
func (rc *restClient) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		status, b, err := rc.once(ctx, method, path, body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if status == http.StatusTooManyRequests && attempt < restRetries {
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
			}
		}
		if status/100 != 2 {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			json.Unmarshal(b, &e)
			if e.Error.Message == "" {
				e.Error.Message = strings.TrimSpace(string(b[:min(len(b), 200)]))
			}
			return fmt.Errorf("%s %s: %w", method, path, &apiError{status, e.Error.Code, e.Error.Message})
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return nil
	}
}

const restRetries = 30

// once sends one request and reads the answer.
func (rc *restClient) once(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rc.base.String()+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rc.token != "" {
		req.Header.Set("Authorization", "Bearer "+rc.token)
	}
	resp, err := rc.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// signup creates a user with a random name and keeps its token.
func (rc *restClient) signup(ctx context.Context) (username string, err error) {
	var r [6]byte
	rand.Read(r[:])
	username = "bench-" + hex.EncodeToString(r[:])
	var pw [16]byte
	rand.Read(pw[:])
	var out struct {
		Token string `json:"token"`
	}
	err = rc.do(ctx, http.MethodPost, "/v1/auth/signup", map[string]string{
		"username": username, "password": hex.EncodeToString(pw[:]), "name": "collab-bench",
	}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		return "", fmt.Errorf("sign-up is closed on this server; pass --token: %w", err)
	}
	if err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", errors.New("sign-up answered without a token")
	}
	rc.token = out.Token
	return username, nil
}

// createDocs creates n documents with text, a few at a time.
func (rc *restClient) createDocs(ctx context.Context, n int, text string) ([]string, error) {
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, 8) {
		wg.Go(func() {
			for i := range next {
				var out struct {
					ID string `json:"id"`
				}
				errs[i] = rc.do(ctx, http.MethodPost, "/v1/documents", map[string]string{
					"title": fmt.Sprintf("collab-bench %d", i), "text": text,
				}, &out)
				if errs[i] == nil && out.ID == "" {
					errs[i] = errors.New("create document: no id in the answer")
				}
				ids[i] = out.ID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create documents: %w", err)
	}
	return ids, nil
}

// content fetches a document as the server holds it.
func (rc *restClient) content(ctx context.Context, doc string) (version int64, d ot.Doc, err error) {
	var out struct {
		Version int64           `json:"version"`
		Delta   json.RawMessage `json:"delta"`
	}
	if err := rc.do(ctx, http.MethodGet, "/v1/documents/"+url.PathEscape(doc)+"/content?format=delta", nil, &out); err != nil {
		return 0, ot.Doc{}, err
	}
	delta, err := ot.ParseDelta(out.Delta)
	if err == nil {
		d, err = ot.DocFromDelta(delta)
	}
	if err != nil {
		return 0, ot.Doc{}, fmt.Errorf("content of %s: %w", doc, err)
	}
	return out.Version, d, nil
}
