// Package work holds the CPU-bound pieces of the demo service: an interface call with a
// dominant implementation (a devirtualization candidate), hashing, sorting and encoding.
package work

import (
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strconv"
)

// Store is called through an interface on the hot path (Lookup); FastStore serves 19 calls
// in 20. Without a profile every Get is an indirect call the compiler cannot inline. With
// the service's profile, PGO sees that the call site in Lookup almost always reaches
// (*FastStore).Get, guards it with a type check and inlines it there: the loop runs without
// a call. BenchmarkLookup measures that gain.
type Store interface {
	Get(key uint64) uint64
}

// FastStore mixes the key with one multiply.
type FastStore struct{ seed uint64 }

// Get returns a mixed value for key.
func (s *FastStore) Get(key uint64) uint64 { return (key ^ s.seed) * 0x9e3779b97f4a7c15 }

// SlowStore mixes the key with shifts as well. It costs about what FastStore costs, so
// even a short capture sees the Lookup -> (*FastStore).Get edge as the hottest one.
type SlowStore struct{ seed uint64 }

// Get returns a mixed value for key.
func (s *SlowStore) Get(key uint64) uint64 { return mix(key + s.seed) }

func mix(x uint64) uint64 {
	x ^= x >> 31
	x *= 0x7fb5d329728ea185
	return x ^ x>>27
}

// Stores returns n stores, one in twenty of them slow.
func Stores(n int) []Store {
	out := make([]Store, n)
	for i := range out {
		if i%20 == 19 {
			out[i] = &SlowStore{seed: uint64(i)}
		} else {
			out[i] = &FastStore{seed: uint64(i)}
		}
	}
	return out
}

// Lookup sums Get over keys spread across the stores: the hot loop of the /lookup route.
func Lookup(stores []Store, keys int) uint64 {
	var sum uint64
	for k, i := 0, 0; k < keys; k++ {
		sum += stores[i].Get(uint64(k))
		if i++; i == len(stores) {
			i = 0
		}
	}
	return sum
}

// Digest hashes n rounds of a growing buffer with one hash.Hash, reset each round (not
// sha256.Sum256: with some profiles PGO inlines Sum256 whole into this loop but not the
// sha256.New inside it, and every round then allocates the digest, the buffer and the
// sum on the heap: 2.5 times slower, docs/ab.md).
func Digest(n int) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 64)
	var sum [32]byte
	for i := 0; i < n; i++ {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, sum[:8]...)
		h.Reset()
		h.Write(buf)
		h.Sum(sum[:0])
	}
	return sum
}

// Item is what the catalog endpoint encodes.
type Item struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// Catalog builds, sorts and encodes n items.
func Catalog(n int) ([]byte, error) {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: i, Name: "item-" + strconv.Itoa(i*7919%n), Price: float64(i%97) * 1.25}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].Name < items[b].Name })
	return json.Marshal(items)
}
