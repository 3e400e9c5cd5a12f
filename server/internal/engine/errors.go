package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The api package maps each to one status code; their text may reach a caller,
// so wrap them only with messages that are safe to show.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a concurrent change won (stale expected_revision); re-read and retry.
	ErrConflict = errors.New("conflict")
	// ErrFailedPrecondition: the request is well-formed but the system is not in a state for it.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrAlreadyExists: a unique name or email is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrPermissionDenied: the caller may not do this (to this thing).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: a dependency (the database) is unavailable; retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
)

// Problem is one thing wrong with a request or a draft, at a path of field names and indexes.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError carries every problem found in a request. Wrapped with ErrFailedPrecondition
// it reports a stored draft that no longer validates.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Invalid returns a *ValidationError for the problems, or nil when there are none.
func Invalid(problems ...Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: problems}
}

// Problems collects problems under a path prefix.
type Problems []Problem

// Add records a problem at path.
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Prefixed returns the problems with prefix joined in front of each path.
func (ps Problems) Prefixed(prefix string) Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		p.Path = joinPath(prefix, p.Path)
		out[i] = p
	}
	return out
}

// Err returns the problems as a *ValidationError, or nil when there are none.
func (ps Problems) Err() error { return Invalid(ps...) }

func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	default:
		return prefix + "." + path
	}
}
