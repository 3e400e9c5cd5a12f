package engine

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Role is a set of things a user may do. Roles add up; ADMIN may do everything.
type Role int

const (
	RoleUnspecified Role = iota
	RoleAdmin
	RoleDesigner
	RoleUser
)

var roleNames = []string{"", "ADMIN", "DESIGNER", "USER"}

func (r Role) String() string { return enumName(roleNames, int(r)) }
func (r Role) Valid() bool    { return r > 0 && int(r) < len(roleNames) }

// ParseRole reads a role name as stored.
func ParseRole(s string) (Role, error) {
	var r int
	err := parseEnum(roleNames, []byte(s), &r)
	return Role(r), err
}

// Principal is who makes a call: the user behind the API key, with their roles and groups.
type Principal struct {
	UserID   string
	Roles    []Role
	GroupIDs []string
	APIKeyID string
}

// Has reports whether the principal holds the role; ADMIN holds every role.
func (p Principal) Has(r Role) bool {
	return slices.Contains(p.Roles, RoleAdmin) || slices.Contains(p.Roles, r)
}

// IsAdmin reports whether the principal is an administrator.
func (p Principal) IsAdmin() bool { return slices.Contains(p.Roles, RoleAdmin) }

// InGroup reports whether the principal is a member of the group.
func (p Principal) InGroup(id string) bool { return slices.Contains(p.GroupIDs, id) }

// User is a person or system that calls the API.
type User struct {
	ID          string
	DisplayName string
	Email       string
	Roles       []Role
	CreatedAt   time.Time
	// DeactivatedAt is set while the user is deactivated: their API keys are refused.
	DeactivatedAt *time.Time
}

// Group is a set of users a HUMAN state can be assigned to.
type Group struct {
	ID          string
	Name        string
	Description string
	MemberIDs   []string
	CreatedAt   time.Time
}

// APIKey is a bearer credential; only the hash of its secret is stored.
type APIKey struct {
	ID         string
	UserID     string
	Name       string
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// IdentityStore is the persistence port of users, groups and keys.
type IdentityStore interface {
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context, p Page) ([]User, string, error)
	CreateGroup(ctx context.Context, g Group) (Group, error)
	GetGroup(ctx context.Context, id string) (Group, error)
	ListGroups(ctx context.Context, p Page) ([]Group, string, error)
	SetGroupMember(ctx context.Context, groupID, userID string, member bool) (Group, error)
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error)
	// RevokeAPIKey revokes a key (the first revocation's time stands). It refuses, with
	// ErrLastAdminKey, the last unrevoked key of every active admin, deciding in one
	// transaction with SetDeactivated's locks, so that nothing leaves the service without a
	// working admin key. ErrNotFound when there is no such key.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) (APIKey, error)
	// APIKeyByHash finds a key by the hash of its secret, with its user.
	APIKeyByHash(ctx context.Context, hash string) (APIKey, User, error)
	// Caller finds a key by the hash of its secret, with its user and the ids of the user's
	// groups, in one read (every authenticated call needs them).
	Caller(ctx context.Context, hash string) (APIKey, User, []string, error)
	// TouchAPIKey records a use, at most once per interval.
	TouchAPIKey(ctx context.Context, id string, at time.Time, interval time.Duration) error
	// Bootstrap creates the first admin and its key when there are no users; it reports
	// whether it did. Racing replicas create one admin between them.
	Bootstrap(ctx context.Context, admin User, key APIKey) (bool, error)
	// MissingAssignees returns those of the ids that name no user / no group.
	MissingAssignees(ctx context.Context, userIDs, groupIDs []string) (users, groups []string, err error)
	// SetDeactivated deactivates (deactivate) or reactivates a user and returns it; doing it
	// twice changes nothing (the first deactivation's time stands). It refuses to deactivate
	// the last active admin with a working (unrevoked) key with ErrLastAdmin, deciding in one transaction, so that two
	// admins deactivating each other at once cannot both succeed. ErrNotFound when there is
	// no such user.
	SetDeactivated(ctx context.Context, id string, deactivate bool) (User, error)
}

// ErrLastAdmin: deactivating the user would leave nobody to administer the service.
var ErrLastAdmin = fmt.Errorf("%w: the last active admin with a working API key cannot be deactivated; create another admin (with a key) first", ErrFailedPrecondition)

// ErrLastAdminKey: revoking the key would leave no active admin with a working key, and
// nothing in the service could make one again (serve ignores FLOWHOOK_BOOTSTRAP_ADMIN_KEY once
// an admin exists).
var ErrLastAdminKey = fmt.Errorf("%w: this is the last working API key of an active admin: revoked, nobody could administer the service; create another key first", ErrFailedPrecondition)

// Identity manages users, groups and API keys.
type Identity struct {
	store IdentityStore
	clock Clock
}

// NewIdentity returns the identity service.
func NewIdentity(store IdentityStore, clock Clock) *Identity {
	return &Identity{store: store, clock: clock}
}

// NewUserInput is what creating a user takes.
type NewUserInput struct {
	DisplayName string
	Email       string
	Roles       []Role
}

// CreateUser validates and saves a user; emails are unique without regard to case.
func (s *Identity) CreateUser(ctx context.Context, in NewUserInput) (User, error) {
	var ps Problems
	checkText(&ps, "display_name", in.DisplayName, MaxNameLen, true)
	email := strings.ToLower(strings.TrimSpace(in.Email))
	checkEmail(&ps, "email", email)
	if len(in.Roles) == 0 {
		ps.Add("roles", "at least one role is required (ROLE_ADMIN, ROLE_DESIGNER, ROLE_USER)")
	}
	var roles []Role
	for i, r := range in.Roles {
		switch {
		case !r.Valid():
			ps.Add(fmt.Sprintf("roles[%d]", i), "unknown role %d", int(r))
		case !slices.Contains(roles, r):
			roles = append(roles, r)
		}
	}
	if err := ps.Err(); err != nil {
		return User{}, err
	}
	slices.Sort(roles)
	return s.store.CreateUser(ctx, User{DisplayName: strings.TrimSpace(in.DisplayName), Email: email, Roles: roles})
}

// ListUsers returns a page of users.
func (s *Identity) ListUsers(ctx context.Context, p Page) ([]User, string, error) {
	return s.store.ListUsers(ctx, p)
}

// CreateGroup validates and saves a group; names are unique.
func (s *Identity) CreateGroup(ctx context.Context, name, description string) (Group, error) {
	var ps Problems
	checkText(&ps, "name", name, MaxNameLen, true)
	checkProse(&ps, "description", description, MaxDescriptionLen, false)
	if err := ps.Err(); err != nil {
		return Group{}, err
	}
	return s.store.CreateGroup(ctx, Group{Name: strings.TrimSpace(name), Description: description})
}

// ListGroups returns a page of groups with their members.
func (s *Identity) ListGroups(ctx context.Context, p Page) ([]Group, string, error) {
	return s.store.ListGroups(ctx, p)
}

// SetGroupMember adds or removes a member; doing it twice is not an error.
func (s *Identity) SetGroupMember(ctx context.Context, groupID, userID string, member bool) (Group, error) {
	return s.store.SetGroupMember(ctx, groupID, userID, member)
}

// CreateAPIKey saves a key for userID ("" for the caller) whose secret hashes to hash. Only
// admins create keys for others.
func (s *Identity) CreateAPIKey(ctx context.Context, p Principal, userID, name, prefix, hash string) (APIKey, error) {
	if userID == "" {
		userID = p.UserID
	}
	if userID != p.UserID && !p.IsAdmin() {
		return APIKey{}, fmt.Errorf("%w: only admins create keys for other users", ErrPermissionDenied)
	}
	var ps Problems
	checkText(&ps, "name", name, MaxNameLen, false)
	if err := ps.Err(); err != nil {
		return APIKey{}, err
	}
	if _, err := s.store.GetUser(ctx, userID); err != nil {
		return APIKey{}, err
	}
	return s.store.CreateAPIKey(ctx, APIKey{UserID: userID, Name: name, Prefix: prefix, Hash: hash, CreatedAt: s.clock.Now()})
}

// RevokeAPIKey revokes a key of the caller's, or (admins) anyone's.
func (s *Identity) RevokeAPIKey(ctx context.Context, p Principal, id string) (APIKey, error) {
	k, err := s.store.GetAPIKey(ctx, id)
	if err != nil {
		return APIKey{}, err
	}
	if k.UserID != p.UserID && !p.IsAdmin() {
		// Someone else's key is, for this caller, a key that does not exist.
		return APIKey{}, fmt.Errorf("%w: api key %s", ErrNotFound, id)
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	return s.store.RevokeAPIKey(ctx, id, s.clock.Now())
}

// ListAPIKeys lists the keys of userID ("" for the caller); only admins see others' keys.
func (s *Identity) ListAPIKeys(ctx context.Context, p Principal, userID string) ([]APIKey, error) {
	if userID == "" {
		userID = p.UserID
	}
	if userID != p.UserID && !p.IsAdmin() {
		return nil, fmt.Errorf("%w: only admins list other users' keys", ErrPermissionDenied)
	}
	return s.store.ListAPIKeys(ctx, userID)
}

// Deactivate deactivates a user, for an admin: their API keys are refused from the next call
// on, on every replica, until Reactivate. Work assigned to them personally stays theirs, for an
// admin to reassign (ListInstances with AssigneeInactive). An admin cannot deactivate
// themself, and nobody the last active admin.
func (s *Identity) Deactivate(ctx context.Context, p Principal, id string) (User, error) {
	if !p.IsAdmin() {
		return User{}, fmt.Errorf("%w: only an admin deactivates users", ErrPermissionDenied)
	}
	if strings.EqualFold(id, p.UserID) { // ids are UUIDs, which parse in either case
		return User{}, fmt.Errorf("%w: an admin cannot deactivate themself; ask another admin", ErrFailedPrecondition)
	}
	return s.store.SetDeactivated(ctx, id, true)
}

// Reactivate undoes Deactivate, for an admin: the user's keys that are not revoked work again.
func (s *Identity) Reactivate(ctx context.Context, p Principal, id string) (User, error) {
	if !p.IsAdmin() {
		return User{}, fmt.Errorf("%w: only an admin reactivates users", ErrPermissionDenied)
	}
	return s.store.SetDeactivated(ctx, id, false)
}

// WhoAmI returns the caller's user.
func (s *Identity) WhoAmI(ctx context.Context, p Principal) (User, error) {
	return s.store.GetUser(ctx, p.UserID)
}

func checkEmail(ps *Problems, path, email string) {
	if email == "" {
		ps.Add(path, "is required")
		return
	}
	if len(email) > 254 {
		ps.Add(path, "must be at most 254 characters")
		return
	}
	if p := ControlProblem(email, false); p != "" {
		ps.Add(path, "%s", p)
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || !MailDomainOK(email) {
		ps.Add(path, "%q is not an email address", truncateText(email, 64))
	}
}
