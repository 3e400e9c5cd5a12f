package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
)

// runBaseline runs -baseline's command (sh -c) and returns the rate its output's last line
// says: make bench runs a few seconds of pgbench there, right before each timed part, so that
// a row can be set against PostgreSQL's own rate at that moment and not only the sitting's
// mean (these machines' speed drifts by a fifth within minutes). A command that fails, or
// whose last line is not a positive number, ends the run: a baseline that silently went
// missing would leave the rows without it.
func runBaseline(ctx context.Context, command string) (float64, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("baseline: %w: %s", err, lastLine(stderr.String()))
	}
	line := lastLine(string(out))
	rate, err := strconv.ParseFloat(line, 64)
	if err != nil || !(rate > 0) || math.IsInf(rate, 1) {
		return 0, fmt.Errorf("baseline: want a positive rate on the last line of its output, got %q", line)
	}
	return rate, nil
}

// lastLine is s's last line that is not blank, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
