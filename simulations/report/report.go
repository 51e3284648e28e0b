package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/passflow/passflow/simulations/campaign"
)

// The files Write writes besides the figures.
const (
	// MarkdownFile is the report.
	MarkdownFile = "report.md"
	// SummaryFile holds the report's rows as JSON, a list of Row.
	SummaryFile = "summary.json"
)

// Write writes the report of results into dir, creating it if missing:
// report.md, summary.json (the rows of Aggregate) and, per scenario, the
// PNG figures <scenario>-objective.png, <scenario>-guardrails.png (when
// the scenario has guardrails) and <scenario>-canary.png. It overwrites
// files of those names and leaves any other file in dir alone. It fails
// on what Aggregate fails on, and when a file cannot be written; report.md
// is written last, so its presence means the rest is complete.
func Write(dir string, results []campaign.Result) error {
	scenarios, err := groupResults(results)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	var all []Row
	rows := make([][]Row, len(scenarios))
	figs := make([]figures, len(scenarios))
	for i, sc := range scenarios {
		sc.inspect()
		for _, pg := range sc.policies {
			rows[i] = append(rows[i], aggregate(sc.name, pg))
		}
		all = append(all, rows[i]...)
		if figs[i], err = drawScenario(dir, sc); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode %s: %w", SummaryFile, err)
	}
	if err := writeFile(filepath.Join(dir, SummaryFile), append(js, '\n')); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, MarkdownFile), markdown(scenarios, rows, figs))
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}
