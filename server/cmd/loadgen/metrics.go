package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrape reads a replica's GET /metrics (Prometheus' text format) and calls each with every
// sample: its name, its labels as written ("{…}", or "") and its value.
func (b *bench) scrape(ctx context.Context, base string, each func(name, labels string, v float64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err
	}
	res, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET /metrics: %d", errStatus, res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ') // label values may hold spaces; the value does not
		if i < 0 {
			continue
		}
		sample, value := line[:i], line[i+1:]
		name, labels := sample, ""
		if i := strings.IndexByte(sample, '{'); i >= 0 {
			name, labels = sample[:i], sample[i:]
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("/metrics: %q: %w", line, err)
		}
		each(name, labels, v)
	}
	return sc.Err()
}

// laneCount is one of the server's write lanes (flowhook_group_commit_*), summed over the
// replicas: batches written, the writes in them, and the seconds their writers spent writing.
type laneCount struct{ batches, writes, busy float64 }

// laneCounts are the lanes' counters at a moment, by lane, and when they were read.
type laneCounts struct {
	at    time.Time
	lanes map[string]laneCount
}

// laneOrder is the order the lanes are shown in, with their short names.
var laneOrder = []struct{ name, short string }{{"events", "ev"}, {"statements", "st"}, {"verdicts", "vd"}}

// readLanes reads every replica's lane counters.
func (b *bench) readLanes(ctx context.Context) (laneCounts, error) {
	out := laneCounts{lanes: map[string]laneCount{}}
	for _, u := range b.urls {
		err := b.scrape(ctx, u, func(name, labels string, v float64) {
			field, ok := strings.CutPrefix(name, "flowhook_group_commit_")
			if !ok {
				return
			}
			_, lane, _ := strings.Cut(labels, `lane="`)
			lane, _, _ = strings.Cut(lane, `"`)
			c := out.lanes[lane]
			switch field {
			case "batches_total":
				c.batches += v
			case "writes_total":
				c.writes += v
			case "busy_seconds_total":
				c.busy += v
			}
			out.lanes[lane] = c
		})
		if err != nil {
			return laneCounts{}, err
		}
	}
	out.at = time.Now()
	return out, nil
}

// laneUse is what a lane did between two readings: its batches, their mean size, and the
// share of the time its writer was writing (a replica's; over several, their mean).
type laneUse struct {
	Batches        int64   `json:"batches"`
	WritesPerBatch float64 `json:"writes_per_batch"`
	Busy           float64 `json:"busy"`
}

// laneUses are the lanes' use between two readings, by lane (those that wrote anything).
func laneUses(before, after laneCounts, replicas int) map[string]laneUse {
	span := after.at.Sub(before.at).Seconds() * float64(replicas)
	out := map[string]laneUse{}
	for lane, a := range after.lanes {
		b := before.lanes[lane]
		n := a.batches - b.batches
		if n <= 0 || span <= 0 {
			continue
		}
		out[lane] = laneUse{Batches: int64(n), WritesPerBatch: (a.writes - b.writes) / n, Busy: (a.busy - b.busy) / span}
	}
	return out
}

// lanesText is a row's lanes for the table: "ev 3.8 86%" (the events lane: 3.8 notifications
// a batch, its writer busy 86% of the time), then the statements and verdicts lanes.
func lanesText(uses map[string]laneUse) string {
	var parts []string
	for _, l := range laneOrder {
		if u, ok := uses[l.name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f %.0f%%", l.short, u.WritesPerBatch, u.Busy*100))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
