package counter

// Queued reports how many callers wait, unsent, for the next write of key.
func (g *Group) Queued(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	if k := g.keys[key]; k != nil {
		for _, c := range k.queue {
			if c.state == callQueued {
				n++
			}
		}
	}
	return n
}

// IsClosed reports whether Close was called.
func (g *Group) IsClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// SetNewKeyHook makes Add call f when it finds no counter for its key, just
// before it takes the write lock to create one.
func (m *Memory) SetNewKeyHook(f func()) { m.newKeyHook = f }

// The expressions of Dynamo's increment, for benchmarks that send the very
// request the store sends.
const (
	DynamoUpdateExpression    = updateExpression
	DynamoConditionExpression = conditionExpression
	DynamoBadCountAttribute   = badCountAttribute
)
