package main

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPool(t *testing.T) {
	ctx := context.Background()
	var busy, waiting int
	p := newPool(1, func(b, w int) { busy, waiting = b, w })
	if err := p.acquire(ctx, time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("a full pool times out", func(t *testing.T) {
		if err := p.acquire(ctx, 10*time.Millisecond); !errors.Is(err, errQueueTimeout) {
			t.Fatalf("got %v, want errQueueTimeout", err)
		}
		if busy, waiting := p.counts(); busy != 1 || waiting != 0 {
			t.Fatalf("busy %d, waiting %d after a timeout, want 1 and 0", busy, waiting)
		}
	})

	t.Run("a canceled wait gives up", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := p.acquire(cctx, time.Second); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})

	t.Run("waiters are served in order, and growing serves them at once", func(t *testing.T) {
		order := make(chan int, 3)
		for i := range 3 {
			go func() {
				if p.acquire(ctx, 5*time.Second) == nil {
					order <- i
				}
			}()
			waitFor(t, func() bool { _, w := p.counts(); return w == i+1 })
		}
		p.release() // one worker freed: the first waiter
		if got := <-order; got != 0 {
			t.Fatalf("first served: %d, want 0", got)
		}
		p.resize(3) // two more: the others, at once
		if got := <-order + <-order; got != 1+2 {
			t.Fatalf("served waiters %d in all, want 1 and 2", got)
		}
		p.mu.Lock()
		busy, waiting := busy, waiting
		p.mu.Unlock()
		if busy != 3 || waiting != 0 {
			t.Fatalf("reported busy %d, waiting %d, want 3 and 0", busy, waiting)
		}
	})

	t.Run("shrinking takes workers back as they are released", func(t *testing.T) {
		p.resize(1)
		p.release()
		p.release()
		if err := p.acquire(ctx, 10*time.Millisecond); !errors.Is(err, errQueueTimeout) {
			t.Fatalf("got %v with 1 worker busy of 1, want errQueueTimeout", err)
		}
		p.release()
		if err := p.acquire(ctx, 10*time.Millisecond); err != nil {
			t.Fatalf("got %v with no worker busy, want one", err)
		}
	})
}

func (p *pool) counts() (busy, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy, p.waiters.Len()
}

// waitFor polls cond until it holds, for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
