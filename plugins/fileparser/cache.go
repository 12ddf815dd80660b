package fileparser

import (
	"container/list"
	"sync"
)

// cache keeps the text of recently parsed PDFs by the SHA-256 of their
// bytes, least recently used out first. A nil cache keeps nothing.
type cache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *entry, most recent at the front
	byKey map[[32]byte]*list.Element
}

type entry struct {
	key [32]byte
	ext Extracted
}

func newCache(max int) *cache {
	return &cache{max: max, order: list.New(), byKey: map[[32]byte]*list.Element{}}
}

func (c *cache) get(key [32]byte) (Extracted, bool) {
	if c == nil {
		return Extracted{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return Extracted{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).ext, true
}

func (c *cache) put(key [32]byte, ext Extracted) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&entry{key, ext})
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*entry)
		delete(c.byKey, old.key)
	}
}
