// Package api serves flowhook's Connect services (Connect, gRPC and gRPC-Web on one handler):
// it maps wire messages to engine types and back, and maps engine errors to Connect codes in
// one place (errors.go), so that no internal text ever reaches a caller.
package api
