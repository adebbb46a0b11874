package work

import "testing"

// The benchmarks live in a library package on purpose: under `go test`, package main is
// compiled under its import path, so a service profile's main.* samples would not reach
// benchmarks of package main. Here the names match the service's profile.

func BenchmarkLookup(b *testing.B) {
	stores := Stores(20)
	for i := 0; i < b.N; i++ {
		Lookup(stores, 2000)
	}
}

func BenchmarkDigest(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Digest(300)
	}
}

func BenchmarkCatalog(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Catalog(2000); err != nil {
			b.Fatal(err)
		}
	}
}
