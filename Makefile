# passflow — see README.md. `make run` builds and runs the demo; `make test`
# runs every test; `make bench` measures what BENCHMARKS.md reports.
GO  ?= go
BIN := bin/passflow

.PHONY: build run test bench bench-runtime bench-optimizer bench-judge clean

build:
	$(GO) build -o $(BIN) ./cmd/passflow

run: build
	./$(BIN) dev --demo

test:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

bench: bench-optimizer bench-judge bench-runtime

bench-optimizer:
	$(GO) test -run '^$$' -bench Suggest -benchtime 25x ./models/
	PASSFLOW_REGRET=1 $(GO) test -run TestRegretReport -v -timeout 2h ./models/

bench-judge:
	PASSFLOW_JUDGE_REPORT=1 $(GO) test -run TestJudgeReport -v ./models/

bench-runtime:
	$(GO) test -run '^$$' -bench 'ColdStart|DemoPass|ConcurrentPasses' -benchtime 1x -timeout 30m ./e2e/

clean:
	rm -rf bin .passflow
