package main

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// errQueueTimeout is a request that waited too long for a worker.
var errQueueTimeout = errors.New("no worker free in time")

// pool is a cohort's worker pool: a counting semaphore of size workers,
// granted first come, first served, whose size can change while requests
// hold and wait for workers. Shrinking it takes workers away as they are
// released; growing it hands the new workers to the longest waiters at once.
type pool struct {
	mu      sync.Mutex
	size    int
	busy    int
	waiters list.List // of chan struct{}, closed when granted
	// observe, when set, is told the busy and waiting counts after each
	// change, under mu.
	observe func(busy, waiting int)
}

func newPool(size int, observe func(busy, waiting int)) *pool {
	p := &pool{size: size, observe: observe}
	p.report()
	return p
}

// acquire waits up to timeout for a worker. It returns errQueueTimeout when
// none came in time, or ctx's error; on nil the caller must release.
func (p *pool) acquire(ctx context.Context, timeout time.Duration) error {
	p.mu.Lock()
	if p.busy < p.size && p.waiters.Len() == 0 {
		p.busy++
		p.report()
		p.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	e := p.waiters.PushBack(ch)
	p.report()
	p.mu.Unlock()

	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-ch:
		return nil
	case <-t.C:
		err = errQueueTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-ch: // granted while giving up: hand the worker on
		p.busy--
		p.grant()
	default:
		p.waiters.Remove(e)
	}
	p.report()
	return err
}

// release returns a worker.
func (p *pool) release() {
	p.mu.Lock()
	p.busy--
	p.grant()
	p.report()
	p.mu.Unlock()
}

// resize sets the number of workers.
func (p *pool) resize(size int) {
	p.mu.Lock()
	p.size = size
	p.grant()
	p.report()
	p.mu.Unlock()
}

// grant hands free workers to the waiters in order; mu is held.
func (p *pool) grant() {
	for p.busy < p.size && p.waiters.Len() > 0 {
		ch := p.waiters.Remove(p.waiters.Front()).(chan struct{})
		p.busy++
		close(ch)
	}
}

func (p *pool) report() {
	if p.observe != nil {
		p.observe(p.busy, p.waiters.Len())
	}
}
