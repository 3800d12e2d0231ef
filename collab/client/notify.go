package client

// queueLocked queues callbacks for notify, after every event queued
// before them.
func (c *Client) queueLocked(fs ...func()) {
	if len(fs) == 0 {
		return
	}
	c.events = append(c.events, fs...)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notify is the callback goroutine: it runs the queued callbacks in order,
// with no lock held, until run has returned and nothing is left.
func (c *Client) notify() {
	defer close(c.notified)
	for {
		c.mu.Lock()
		batch := c.events
		c.events = nil
		c.mu.Unlock()
		for _, f := range batch {
			f()
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-c.wake:
		case <-c.quit:
			// run is over and the client stopped: Submit and SetSelection
			// queue nothing more. Run what came in last.
			c.mu.Lock()
			batch, c.events = c.events, nil
			c.mu.Unlock()
			for _, f := range batch {
				f()
			}
			return
		}
	}
}
