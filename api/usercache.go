package api

import (
	"context"
	"sync"
	"time"

	"github.com/collabd/collabd/collab"
)

// userCache remembers users by id for a few seconds: every request
// authenticates and most show an owner or author, and accounts change
// rarely. A renamed user shows the old name for at most ttl.
type userCache struct {
	users collab.Users
	ttl   time.Duration

	mu      sync.Mutex // guards entries
	entries map[collab.UserID]cachedUser
}

type cachedUser struct {
	user collab.User
	at   time.Time
}

// maxCachedUsers bounds the cache; past it, it starts over.
const maxCachedUsers = 10_000

func newUserCache(users collab.Users, ttl time.Duration) *userCache {
	return &userCache{users: users, ttl: ttl, entries: map[collab.UserID]cachedUser{}}
}

// User returns the user with id, from the cache when fresh.
func (c *userCache) User(ctx context.Context, id collab.UserID) (collab.User, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.user, nil
	}
	u, err := c.users.User(ctx, id)
	if err != nil {
		return u, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedUsers {
		clear(c.entries)
	}
	c.entries[id] = cachedUser{user: u, at: now}
	c.mu.Unlock()
	return u, nil
}
