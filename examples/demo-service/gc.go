package main

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"time"
)

// How a response is rendered under each gc_mode. Every request renders
// responseSize bytes; what differs is where the memory comes from and what
// the (simulated) collector costs:
//
//   - throughput reuses large buffers through a sync.Pool, so requests make
//     little garbage and do no collection work of their own; instead, every
//     pauseEvery bytes rendered the cohort stops for a collection (pauseWait
//     plus pauseMark bytes of marking work) and the requests rendering
//     meanwhile wait for it: cheap on average, a little worse in the tail.
//   - low-latency allocates small fresh buffers (real garbage for Go's own
//     collector) and pays for a concurrent collector as it goes: each request
//     re-reads what it allocated markPasses times. No pauses, but more CPU
//     per request, which the cost counter charges.
//
// At 50 requests/s the difference is a few percent of the cost per request
// and a few milliseconds of p99: modest, on purpose.
const (
	responseSize   = 32 << 10
	pooledBufSize  = 64 << 10
	freshChunkSize = 4 << 10
	markPasses     = 4
	pauseEvery     = 4 << 20
	pauseWait      = 40 * time.Millisecond
	pauseMark      = 1 << 20
)

// heap is a cohort's memory under its gc_mode.
type heap struct {
	buffers  sync.Pool    // throughput: *[]byte of pooledBufSize
	stw      sync.RWMutex // held for writing during a throughput pause
	rendered atomic.Int64 // bytes rendered under throughput
}

func newHeap() *heap {
	h := &heap{}
	h.buffers.New = func() any { b := make([]byte, pooledBufSize); return &b }
	return h
}

// render renders a response for seed under mode. It returns the response's
// checksum, the time spent computing (which the cost counter charges as
// CPU) and whether this request ran a collection pause. slow stretches the
// pause's wait, like every other wait of a slowed cohort.
func (h *heap) render(mode string, seed uint64, slow float64) (sum uint32, cpu time.Duration, paused bool) {
	if mode == gcLowLatency {
		start := time.Now()
		chunks := make([][]byte, responseSize/freshChunkSize)
		for i := range chunks {
			chunks[i] = make([]byte, freshChunkSize)
			fill(chunks[i], seed+uint64(i))
			sum = crc32.Update(sum, crc32.IEEETable, chunks[i])
		}
		for range markPasses {
			sum ^= mark(chunks...)
		}
		return sum, time.Since(start), false
	}

	h.stw.RLock()
	start := time.Now()
	bp := h.buffers.Get().(*[]byte)
	b := (*bp)[:responseSize]
	fill(b, seed)
	sum = crc32.ChecksumIEEE(b)
	h.buffers.Put(bp)
	cpu = time.Since(start)
	h.stw.RUnlock()

	n := h.rendered.Add(responseSize)
	if n/pauseEvery == (n-responseSize)/pauseEvery {
		return sum, cpu, false
	}
	// This request crossed a collection threshold: stop the cohort.
	h.stw.Lock()
	start = time.Now()
	heapBuf := make([]byte, pauseMark)
	fill(heapBuf, seed)
	sum ^= mark(heapBuf)
	cpu += time.Since(start)
	time.Sleep(time.Duration(float64(pauseWait) * slow))
	h.stw.Unlock()
	return sum, cpu, true
}

// fill writes pseudo-random bytes (xorshift64*) into b.
func fill(b []byte, seed uint64) {
	x := seed | 1
	for len(b) >= 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(b, x*0x2545f4914f6cdd1d)
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(x >> (8 * i))
	}
}

// mark reads every byte of bufs once, as a collector's marking would, and
// returns a digest of them so the work cannot be skipped.
func mark(bufs ...[]byte) uint32 {
	h := sha256.New()
	for _, b := range bufs {
		h.Write(b)
	}
	var d [sha256.Size]byte
	return binary.LittleEndian.Uint32(h.Sum(d[:0]))
}
