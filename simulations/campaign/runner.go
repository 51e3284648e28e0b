package campaign

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/passflow/passflow/simulations"
)

// Job is one campaign of a batch: a world, a policy and a seed.
type Job struct {
	World  simulations.World
	Policy Policy
	Seed   uint64
}

// Jobs returns the campaigns of worlds × policies × seeds, in that order.
func Jobs(worlds []simulations.World, policies []Policy, seeds []uint64) []Job {
	jobs := make([]Job, 0, len(worlds)*len(policies)*len(seeds))
	for _, w := range worlds {
		for _, p := range policies {
			for _, s := range seeds {
				jobs = append(jobs, Job{World: w, Policy: p, Seed: s})
			}
		}
	}
	return jobs
}

// Seeds returns the seeds 1 to n.
func Seeds(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// BatchOptions configure RunAll.
type BatchOptions struct {
	// Passes is each campaign's number of passes (DefaultPasses when 0).
	Passes int
	// Parallel is how many campaigns run at once (GOMAXPROCS when 0): each
	// has its own test environment and keeps about one core busy.
	Parallel int
	// Progress, when set, is called after every pass of every campaign with
	// the passes and campaigns done so far and their totals; calls are
	// serialized.
	Progress func(BatchProgress)
}

// BatchProgress is how far a batch has got.
type BatchProgress struct {
	Passes, TotalPasses       int
	Campaigns, TotalCampaigns int
	// Last is the pass that has just ended and Job its campaign.
	Last Pass
	Job  Job
}

// RunAll runs jobs, up to opts.Parallel at a time, and returns the results
// of those that completed, in the order of jobs, with the errors of the
// others joined. A cancelled ctx ends the running campaigns after their
// current pass and starts no more.
func RunAll(ctx context.Context, jobs []Job, opts BatchOptions) ([]Result, error) {
	if opts.Passes == 0 {
		opts.Passes = DefaultPasses
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	results := make([]*Result, len(jobs))
	errs := make([]error, len(jobs))
	var mu sync.Mutex
	prog := BatchProgress{TotalPasses: len(jobs) * opts.Passes, TotalCampaigns: len(jobs)}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				job := jobs[i]
				o := Options{Passes: opts.Passes, Seed: job.Seed, Policy: job.Policy}
				if opts.Progress != nil {
					o.Progress = func(p Pass) {
						mu.Lock()
						defer mu.Unlock()
						prog.Passes++
						if p.N == opts.Passes {
							prog.Campaigns++
						}
						prog.Last, prog.Job = p, job
						opts.Progress(prog)
					}
				}
				res, err := Run(ctx, job.World, o)
				if err != nil {
					errs[i] = err
					continue
				}
				results[i] = &res
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	out := make([]Result, 0, len(jobs))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, errors.Join(dedupe(errs)...)
}

// dedupe drops nil errors and repeats of the same cancellation.
func dedupe(errs []error) []error {
	var out []error
	cancelled := false
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			if !cancelled {
				out = append(out, err)
			}
			cancelled = true
		default:
			out = append(out, err)
		}
	}
	return out
}
