package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"connectrpc.com/grpchealth"
)

// HealthChecker answers the gRPC health protocol: SERVING while the database answers.
type HealthChecker struct {
	ping     func(context.Context) error
	services map[string]bool
}

// NewHealthChecker checks ping for the overall service ("") and each named service.
func NewHealthChecker(ping func(context.Context) error, services ...string) *HealthChecker {
	known := map[string]bool{"": true}
	for _, s := range services {
		known[s] = true
	}
	return &HealthChecker{ping: ping, services: known}
}

func (h *HealthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if !h.services[req.Service] {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Service))
	}
	if err := h.ping(ctx); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}
