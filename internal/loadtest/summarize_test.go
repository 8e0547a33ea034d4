package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSummarizeCountsDistinctErrors(t *testing.T) {
	var errs []error
	for range 98 {
		errs = append(errs, fmt.Errorf("%w: %w", ErrNotReady, context.DeadlineExceeded))
	}
	errs = append(errs, errors.New("dial refused"), errors.New("dial refused"))
	err := summarize(errs, 100)
	if got := strings.Count(err.Error(), "\n") + 1; got != 2 {
		t.Fatalf("%d lines, want 2: %v", got, err)
	}
	if !strings.Contains(err.Error(), "98 of 100 connections: loadtest: items not ready") || !strings.Contains(err.Error(), "2 of 100 connections: dial refused") {
		t.Fatalf("summary: %v", err)
	}
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the summary does not wrap the errors")
	}
}
