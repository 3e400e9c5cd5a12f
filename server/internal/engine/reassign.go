package engine

import (
	"context"
	"errors"
	"fmt"
)

// Directory is what Reassign asks of the identity store: whether an assignee exists, and
// whether a user may be given work (a deactivated user may not).
type Directory interface {
	GetUser(ctx context.Context, id string) (User, error)
	GetGroup(ctx context.Context, id string) (Group, error)
}

// ReassignInput is what reassigning an instance takes.
type ReassignInput struct {
	InstanceID string
	Assignee   Assignee // a user or a group
	Reason     string   // optional, kept in the timeline
}

// Reassign moves the HUMAN work of an ACTIVE instance, in its current state, to another user
// or group, for an admin: the new assignee sees it in ListAssignedToMe and may take its
// transitions; the old one no longer may. Only the assignee changes: the instance is saved as
// read otherwise, at the revision read, so that a concurrent move wins (ErrConflict) rather
// than being undone. The next state entered gets its own assignee again, from the definition.
// Reassigning to the current assignee changes nothing and records nothing.
func (r *Runner) Reassign(ctx context.Context, p Principal, in ReassignInput) (Instance, error) {
	if !p.IsAdmin() {
		return Instance{}, fmt.Errorf("%w: only an admin reassigns an instance", ErrPermissionDenied)
	}
	var ps Problems
	to := in.Assignee
	switch {
	case to.UserID == "" && to.GroupID == "":
		ps.Add("assignee", "is required: a user_id or a group_id")
	case to.UserID != "" && to.GroupID != "":
		ps.Add("assignee", "names a user or a group, not both")
	}
	checkProse(&ps, "reason", in.Reason, MaxDescriptionLen, false)
	if err := ps.Err(); err != nil {
		return Instance{}, err
	}
	inst, err := r.instances.GetInstance(ctx, in.InstanceID)
	if err != nil {
		return Instance{}, err
	}
	if inst.Status != StatusActive {
		return Instance{}, fmt.Errorf("%w: the instance is %s in %q; only an ACTIVE instance, waiting in a HUMAN state, can be reassigned",
			ErrFailedPrecondition, inst.Status, inst.StateKey)
	}
	// The assignee is checked before comparing with the current one: work left with a
	// deactivated user is not confirmed there by a reassignment to them.
	if to, err = r.assignable(ctx, to); err != nil {
		return Instance{}, err
	}
	if inst.Assignee != nil && *inst.Assignee == to {
		return inst, nil
	}
	now := r.clock.Now()
	read := inst.Revision
	from := inst.Assignee
	inst.Assignee = &to
	inst.UpdatedAt = now
	inst.Revision = read + 1
	msg := fmt.Sprintf("reassigned from %s to %s", describeAssignee(from), describeAssignee(&to))
	if in.Reason != "" {
		msg += ": " + in.Reason
	}
	a := to
	acts := []Activity{{Kind: ActivityReassigned, ActorID: p.UserID, FromState: inst.StateKey, ToState: inst.StateKey,
		Assignee: &a, Message: msg, CreatedAt: now}}
	return r.instances.UpdateInstance(ctx, inst, read, acts, Effects{})
}

// assignable returns the assignee as stored (a user by their canonical id) when it exists and
// may be given work.
func (r *Runner) assignable(ctx context.Context, to Assignee) (Assignee, error) {
	if r.Directory == nil {
		return Assignee{}, errors.New("engine: the runner has no directory to check assignees against")
	}
	if to.UserID != "" {
		u, err := r.Directory.GetUser(ctx, to.UserID)
		if errors.Is(err, ErrNotFound) {
			return Assignee{}, fmt.Errorf("%w: no user has the id %q", ErrNotFound, truncateText(to.UserID, 64))
		}
		if err != nil {
			return Assignee{}, err
		}
		if why := cannotWork(u); why != "" {
			return Assignee{}, fmt.Errorf("%w: %s", ErrFailedPrecondition, why)
		}
		return Assignee{UserID: u.ID}, nil
	}
	g, err := r.Directory.GetGroup(ctx, to.GroupID)
	if errors.Is(err, ErrNotFound) {
		return Assignee{}, fmt.Errorf("%w: no group has the id %q", ErrNotFound, truncateText(to.GroupID, 64))
	}
	if err != nil {
		return Assignee{}, err
	}
	return Assignee{GroupID: g.ID}, nil
}

func describeAssignee(a *Assignee) string {
	switch {
	case a == nil:
		return "nobody"
	case a.UserID != "":
		return "user " + a.UserID
	default:
		return "group " + a.GroupID
	}
}
