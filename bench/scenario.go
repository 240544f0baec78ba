package bench

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is a named workload from a scenarios file, so anyone can rerun
// the same measurement by name.
type Scenario struct {
	Name        string `yaml:"-"`
	Description string `yaml:"description"`
	// FaedConfig is a faed configuration file the scenario wants faed run
	// with (relative to the repository root; bench/compare.sh reads it);
	// empty means faed -servers with no file.
	FaedConfig string `yaml:"faed_config"`
	// FaedL1Config, when set, is the config of a second faed that
	// bench/compare.sh measures beside the first, as target "faed-l1"
	// (the same pool with an L1 cache).
	FaedL1Config string `yaml:"faed_l1_config"`
	// UpstreamDelay, when set, puts a network hop between every target and
	// memcached: compare.sh starts a lag relay (fae-bench relay) holding
	// every chunk this long each way in front of memcached, and the
	// targets reach memcached through it, the memcached target itself
	// too (a client talking to a remote memcached).
	UpstreamDelay time.Duration `yaml:"upstream_delay"`
	// Unix, when set, has compare.sh measure faed and nutcracker over a
	// unix socket too (faed's listen_unix, nutcracker's listen: PATH), as
	// targets "faed-unix" and "nutcracker-unix", beside them over TCP: the
	// same processes, so what the socket saves is the only difference.
	Unix bool `yaml:"unix"`
	// Workload holds the scenario's fields; those it leaves out keep
	// DefaultWorkload's values.
	Workload `yaml:",inline"`
}

// scenarioFile is the layout of a scenarios file.
type scenarioFile struct {
	Scenarios map[string]yaml.Node `yaml:"scenarios"`
}

// LoadScenarios reads a scenarios file: a top-level "scenarios:" map of
// name to workload fields (the json names of Workload, durations as "5s",
// value_size as "100" or "64-4096"), plus description and faed_config.
// Unknown fields are errors, named with their scenario.
func LoadScenarios(path string) (map[string]*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f scenarioFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]*Scenario, len(f.Scenarios))
	for name, node := range f.Scenarios {
		// Why: decode twice: strictly into a zero Scenario to reject
		// misspelled fields, then over the defaults for the values.
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&node); err != nil {
			return nil, fmt.Errorf("%s: scenarios.%s: %w", path, name, err)
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		var strict Scenario
		if err := dec.Decode(&strict); err != nil {
			return nil, fmt.Errorf("%s: scenarios.%s: %w", path, name, err)
		}
		s := &Scenario{Name: name, Workload: DefaultWorkload()}
		if err := node.Decode(s); err != nil {
			return nil, fmt.Errorf("%s: scenarios.%s: %w", path, name, err)
		}
		if s.UpstreamDelay < 0 {
			return nil, fmt.Errorf("%s: scenarios.%s: upstream_delay %v: must not be negative", path, name, s.UpstreamDelay)
		}
		if err := s.Workload.Validate(); err != nil {
			return nil, fmt.Errorf("%s: scenarios.%s: %w", path, name, err)
		}
		out[name] = s
	}
	return out, nil
}

// ScenarioNames returns the names of m, sorted.
func ScenarioNames(m map[string]*Scenario) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	// S2 before S10: shorter names first.
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) < len(names[j])
		}
		return names[i] < names[j]
	})
	return names
}
