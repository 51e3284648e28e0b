package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// generate offers rps requests a second to s, at Poisson-distributed
// arrivals (open loop: a request is sent on time whether or not earlier
// ones were answered, as users do), for keys drawn from the traffic's Zipf
// law, until ctx is done. In-flight requests are tracked by wg and finish
// on their own (a request takes at most about queueTimeout plus its work).
func generate(ctx context.Context, s *Service, rps float64, seed uint64, wg *sync.WaitGroup) {
	r := rand.New(rand.NewPCG(seed, 0x10ad))
	keys := rand.NewZipf(r, zipfS, 1, numKeys-1)
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(next) > time.Second { // stalled (a suspended machine): skip what was missed
			next = now
		}
		for !next.After(now) {
			key := int(keys.Uint64())
			wg.Go(func() { s.Handle(context.WithoutCancel(ctx), key) })
			next = next.Add(time.Duration(r.ExpFloat64() / rps * float64(time.Second)))
		}
		t.Reset(next.Sub(now))
	}
}
