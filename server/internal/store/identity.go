package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/apikey"
	"github.com/flowhook/flowhook/ent/group"
	"github.com/flowhook/flowhook/ent/user"
	"github.com/flowhook/flowhook/server/internal/engine"
)

var _ engine.IdentityStore = (*Store)(nil)

func (s *Store) CreateUser(ctx context.Context, u engine.User) (engine.User, error) {
	now := now()
	row, err := s.db.Client.User.Create().
		SetDisplayName(u.DisplayName).
		SetEmail(u.Email).
		SetRoles(roleNames(u.Roles)).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		if isUniqueViolation(err) || ent.IsConstraintError(err) {
			return engine.User{}, fmt.Errorf("%w: a user with the email %q exists", engine.ErrAlreadyExists, u.Email)
		}
		return engine.User{}, translate(err)
	}
	return userFromRow(row), nil
}

func (s *Store) GetUser(ctx context.Context, id string) (engine.User, error) {
	uid, err := parseID("user", id)
	if err != nil {
		return engine.User{}, err
	}
	row, err := s.db.Client.User.Get(ctx, uid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.User{}, fmt.Errorf("%w: user %s", engine.ErrNotFound, id)
		}
		return engine.User{}, translate(err)
	}
	return userFromRow(row), nil
}

func (s *Store) ListUsers(ctx context.Context, p engine.Page) ([]engine.User, string, error) {
	q := s.db.Client.User.Query()
	if p.After != "" {
		after, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", badToken()
		}
		q = q.Where(user.IDGT(after))
	}
	rows, err := q.Order(user.ByID()).Limit(p.Size + 1).All(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	rows, next := cut(rows, p.Size, func(r *ent.User) string { return r.ID.String() })
	out := make([]engine.User, len(rows))
	for i, r := range rows {
		out[i] = userFromRow(r)
	}
	return out, next, nil
}

func (s *Store) CreateGroup(ctx context.Context, g engine.Group) (engine.Group, error) {
	now := now()
	row, err := s.db.Client.Group.Create().
		SetName(g.Name).
		SetDescription(g.Description).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		if isUniqueViolation(err) || ent.IsConstraintError(err) {
			return engine.Group{}, fmt.Errorf("%w: a group named %q exists", engine.ErrAlreadyExists, g.Name)
		}
		return engine.Group{}, translate(err)
	}
	return groupFromRow(row, nil), nil
}

func (s *Store) GetGroup(ctx context.Context, id string) (engine.Group, error) {
	gid, err := parseID("group", id)
	if err != nil {
		return engine.Group{}, err
	}
	row, err := s.db.Client.Group.Query().Where(group.ID(gid)).WithMembers(func(q *ent.UserQuery) {
		q.Select(user.FieldID).Order(user.ByID())
	}).Only(ctx)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.Group{}, fmt.Errorf("%w: group %s", engine.ErrNotFound, id)
		}
		return engine.Group{}, translate(err)
	}
	return groupFromRow(row, row.Edges.Members), nil
}

func (s *Store) ListGroups(ctx context.Context, p engine.Page) ([]engine.Group, string, error) {
	q := s.db.Client.Group.Query()
	if p.After != "" {
		after, err := uuid.Parse(p.After)
		if err != nil {
			return nil, "", badToken()
		}
		q = q.Where(group.IDGT(after))
	}
	rows, err := q.Order(group.ByID()).Limit(p.Size + 1).WithMembers(func(q *ent.UserQuery) {
		q.Select(user.FieldID).Order(user.ByID())
	}).All(ctx)
	if err != nil {
		return nil, "", translate(err)
	}
	rows, next := cut(rows, p.Size, func(r *ent.Group) string { return r.ID.String() })
	out := make([]engine.Group, len(rows))
	for i, r := range rows {
		out[i] = groupFromRow(r, r.Edges.Members)
	}
	return out, next, nil
}

func (s *Store) SetGroupMember(ctx context.Context, groupID, userID string, member bool) (engine.Group, error) {
	gid, err := parseID("group", groupID)
	if err != nil {
		return engine.Group{}, err
	}
	uid, err := parseID("user", userID)
	if err != nil {
		return engine.Group{}, err
	}
	if _, err := s.GetUser(ctx, userID); err != nil {
		return engine.Group{}, err
	}
	if _, err := s.GetGroup(ctx, groupID); err != nil {
		return engine.Group{}, err
	}
	upd := s.db.Client.Group.UpdateOneID(gid)
	if member {
		// Adding an existing member must not fail: only add when absent. A racing duplicate
		// hits the join table's primary key and is then a no-op too.
		exists, err := s.db.Client.Group.Query().Where(group.ID(gid), group.HasMembersWith(user.ID(uid))).Exist(ctx)
		if err != nil {
			return engine.Group{}, translate(err)
		}
		if exists {
			return s.GetGroup(ctx, groupID)
		}
		upd = upd.AddMemberIDs(uid)
	} else {
		upd = upd.RemoveMemberIDs(uid)
	}
	if err := upd.Exec(ctx); err != nil && !isUniqueViolation(err) && !ent.IsConstraintError(err) {
		return engine.Group{}, translate(err)
	}
	return s.GetGroup(ctx, groupID)
}

func (s *Store) CreateAPIKey(ctx context.Context, k engine.APIKey) (engine.APIKey, error) {
	uid, err := parseID("user", k.UserID)
	if err != nil {
		return engine.APIKey{}, err
	}
	row, err := s.db.Client.ApiKey.Create().
		SetUserID(uid).
		SetName(k.Name).
		SetPrefix(k.Prefix).
		SetHash(k.Hash).
		SetCreatedAt(now()).
		Save(ctx)
	if err != nil {
		return engine.APIKey{}, translate(err)
	}
	return keyFromRow(row), nil
}

func (s *Store) GetAPIKey(ctx context.Context, id string) (engine.APIKey, error) {
	kid, err := parseID("api key", id)
	if err != nil {
		return engine.APIKey{}, err
	}
	row, err := s.db.Client.ApiKey.Get(ctx, kid)
	if err != nil {
		if ent.IsNotFound(err) {
			return engine.APIKey{}, fmt.Errorf("%w: api key %s", engine.ErrNotFound, id)
		}
		return engine.APIKey{}, translate(err)
	}
	return keyFromRow(row), nil
}

func (s *Store) ListAPIKeys(ctx context.Context, userID string) ([]engine.APIKey, error) {
	uid, err := parseID("user", userID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Client.ApiKey.Query().Where(apikey.UserID(uid)).Order(apikey.ByID()).All(ctx)
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 { // no keys, or no such user: as CreateAPIKey, NotFound for the latter
		if exists, err := s.db.Client.User.Query().Where(user.ID(uid)).Exist(ctx); err != nil {
			return nil, translate(err)
		} else if !exists {
			return nil, fmt.Errorf("%w: user %s", engine.ErrNotFound, userID)
		}
	}
	out := make([]engine.APIKey, len(rows))
	for i, r := range rows {
		out[i] = keyFromRow(r)
	}
	return out, nil
}

func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) (engine.APIKey, error) {
	kid, err := parseID("api key", id)
	if err != nil {
		return engine.APIKey{}, err
	}
	err = s.inTx(ctx, func(tx txn) error {
		k, err := tx.ApiKey.Get(ctx, kid)
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: api key %s", engine.ErrNotFound, id)
		}
		if err != nil || k.RevokedAt != nil {
			return err // the first revocation's time stands
		}
		owner, err := tx.User.Get(ctx, k.UserID)
		if err != nil {
			return err
		}
		if owner.DeactivatedAt == nil && slices.Contains(owner.Roles, engine.RoleAdmin.String()) {
			if ok, err := adminKeyRemains(ctx, tx, uuid.Nil, kid); err != nil {
				return err
			} else if !ok {
				return engine.ErrLastAdminKey
			}
		}
		return tx.ApiKey.Update().Where(apikey.ID(kid), apikey.RevokedAtIsNil()).
			SetRevokedAt(at.UTC().Truncate(time.Microsecond)).Exec(ctx)
	})
	if err != nil {
		return engine.APIKey{}, translate(err)
	}
	return s.GetAPIKey(ctx, id)
}

// adminKeyRemains reports whether an active admin other than withoutUser keeps an unrevoked key
// other than withoutKey: whether the service would still have someone to administer it. It
// locks every active user first, in id order, as SetDeactivated does, so that revocations and
// deactivations that would together take the last one away run one after the other (the
// second then sees the first's change) and cannot deadlock. SQLite runs transactions one at a
// time.
func adminKeyRemains(ctx context.Context, tx txn, withoutUser, withoutKey uuid.UUID) (bool, error) {
	q := tx.User.Query().Where(user.DeactivatedAtIsNil()).Order(user.ByID())
	if tx.locks {
		q = q.ForUpdate()
	}
	active, err := q.Select(user.FieldID, user.FieldRoles).All(ctx)
	if err != nil {
		return false, err
	}
	var admins []uuid.UUID
	for _, u := range active {
		if u.ID != withoutUser && slices.Contains(u.Roles, engine.RoleAdmin.String()) {
			admins = append(admins, u.ID)
		}
	}
	if len(admins) == 0 {
		return false, nil
	}
	return tx.ApiKey.Query().Where(apikey.UserIDIn(admins...), apikey.RevokedAtIsNil(), apikey.IDNEQ(withoutKey)).Exist(ctx)
}

func (s *Store) APIKeyByHash(ctx context.Context, hash string) (engine.APIKey, engine.User, error) {
	k, u, _, err := s.Caller(ctx, hash)
	return k, u, err
}

// Caller reads the API key with the hash, its user and the ids of the user's groups in one
// query (a join, a row per group): every authenticated call needs all three, and read as
// three queries they were a third of the server's CPU for a take. Being read on every call,
// a revocation, a deactivation or a membership takes effect at once on every replica.
func (s *Store) Caller(ctx context.Context, hash string) (engine.APIKey, engine.User, []string, error) {
	var (
		k     ent.ApiKey
		u     ent.User
		roles []byte
		gid   uuid.NullUUID
	)
	rows, err := s.query(ctx, callerSQL[s.entDialect()], hash)
	if err != nil {
		return engine.APIKey{}, engine.User{}, nil, translate(err)
	}
	defer rows.Close()
	found := false
	groups := []string{}
	for rows.Next() {
		if err := rows.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt,
			&u.ID, &u.CreatedAt, &u.DisplayName, &u.Email, &roles, &u.DeactivatedAt, &gid); err != nil {
			return engine.APIKey{}, engine.User{}, nil, translate(err)
		}
		found = true
		if gid.Valid {
			groups = append(groups, gid.UUID.String())
		}
	}
	if err := rows.Err(); err != nil {
		return engine.APIKey{}, engine.User{}, nil, translate(err)
	}
	if !found {
		return engine.APIKey{}, engine.User{}, nil, fmt.Errorf("%w: api key", engine.ErrNotFound)
	}
	if len(roles) > 0 {
		if err := json.Unmarshal(roles, &u.Roles); err != nil {
			return engine.APIKey{}, engine.User{}, nil, fmt.Errorf("user %s: roles: %w", u.ID, err)
		}
	}
	return keyFromRow(&k), userFromRow(&u), groups, nil
}

// callerSQL is Caller's query, by dialect.
var callerSQL = byDialect(func(b *entsql.DialectBuilder) string {
	kt, ut, gt := b.Table(apikey.Table).As("k"), b.Table(user.Table).As("u"), b.Table(user.GroupsTable).As("g")
	query, _ := b.Select(
		kt.C(apikey.FieldID), kt.C(apikey.FieldUserID), kt.C(apikey.FieldName), kt.C(apikey.FieldPrefix),
		kt.C(apikey.FieldHash), kt.C(apikey.FieldCreatedAt), kt.C(apikey.FieldLastUsedAt), kt.C(apikey.FieldRevokedAt),
		ut.C(user.FieldID), ut.C(user.FieldCreatedAt), ut.C(user.FieldDisplayName), ut.C(user.FieldEmail),
		ut.C(user.FieldRoles), ut.C(user.FieldDeactivatedAt), gt.C(user.GroupsPrimaryKey[1]),
	).From(kt).
		Join(ut).On(kt.C(apikey.FieldUserID), ut.C(user.FieldID)).
		LeftJoin(gt).On(ut.C(user.FieldID), gt.C(user.GroupsPrimaryKey[0])).
		Where(entsql.EQ(kt.C(apikey.FieldHash), "")).
		OrderBy(gt.C(user.GroupsPrimaryKey[1])).
		Query()
	return query
})

func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	kid, err := parseID("api key", id)
	if err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Microsecond)
	err = s.db.Client.ApiKey.Update().
		Where(apikey.ID(kid), apikey.Or(apikey.LastUsedAtIsNil(), apikey.LastUsedAtLT(at.Add(-interval)))).
		SetLastUsedAt(at).
		Exec(ctx)
	return translate(err)
}

func (s *Store) Bootstrap(ctx context.Context, admin engine.User, key engine.APIKey) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx txn) error {
		n, err := tx.User.Query().Limit(1).Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		now := now()
		u, err := tx.User.Create().SetDisplayName(admin.DisplayName).SetEmail(admin.Email).
			SetRoles(roleNames(admin.Roles)).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.ApiKey.Create().SetUserID(u.ID).SetName(key.Name).SetPrefix(key.Prefix).
			SetHash(key.Hash).SetCreatedAt(now).Save(ctx); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil && (isUniqueViolation(err) || ent.IsConstraintError(err)) {
		return false, nil // another replica bootstrapped at the same moment
	}
	return created, translate(err)
}

func (s *Store) SetDeactivated(ctx context.Context, id string, deactivate bool) (engine.User, error) {
	uid, err := parseID("user", id)
	if err != nil {
		return engine.User{}, err
	}
	if !deactivate {
		// Conditional: reactivating an active user changes nothing.
		at := now()
		if err := s.db.Client.User.Update().Where(user.ID(uid), user.DeactivatedAtNotNil()).
			ClearDeactivatedAt().SetUpdatedAt(at).Exec(ctx); err != nil {
			return engine.User{}, translate(err)
		}
		return s.GetUser(ctx, id)
	}
	err = s.inTx(ctx, func(tx txn) error {
		target, err := tx.User.Get(ctx, uid)
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: user %s", engine.ErrNotFound, id)
		}
		if err != nil || target.DeactivatedAt != nil {
			return err // a deactivated user stays as deactivated first
		}
		if slices.Contains(target.Roles, engine.RoleAdmin.String()) {
			// Of two admins deactivating each other at once, the second waits for the first's
			// locks, then no longer sees it active, and is refused (adminKeyRemains).
			if ok, err := adminKeyRemains(ctx, tx, uid, uuid.Nil); err != nil {
				return err
			} else if !ok {
				return engine.ErrLastAdmin
			}
		}
		at := now()
		return tx.User.Update().Where(user.ID(uid), user.DeactivatedAtIsNil()).SetDeactivatedAt(at).SetUpdatedAt(at).Exec(ctx)
	})
	if err != nil {
		return engine.User{}, translate(err)
	}
	return s.GetUser(ctx, id)
}

func (s *Store) MissingAssignees(ctx context.Context, userIDs, groupIDs []string) ([]string, []string, error) {
	missingUsers, err := missing(userIDs, func(ids []uuid.UUID) ([]uuid.UUID, error) {
		return s.db.Client.User.Query().Where(user.IDIn(ids...)).IDs(ctx)
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	missingGroups, err := missing(groupIDs, func(ids []uuid.UUID) ([]uuid.UUID, error) {
		return s.db.Client.Group.Query().Where(group.IDIn(ids...)).IDs(ctx)
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	return missingUsers, missingGroups, nil
}

// missing returns the ids that are not UUIDs or that found returns nothing for.
func missing(ids []string, found func([]uuid.UUID) ([]uuid.UUID, error)) ([]string, error) {
	var parsed []uuid.UUID
	var out []string
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			out = append(out, id)
			continue
		}
		parsed = append(parsed, u)
	}
	if len(parsed) == 0 {
		return out, nil
	}
	have, err := found(parsed)
	if err != nil {
		return nil, err
	}
	exists := make(map[uuid.UUID]bool, len(have))
	for _, h := range have {
		exists[h] = true
	}
	for _, u := range parsed {
		if !exists[u] {
			out = append(out, u.String())
		}
	}
	return out, nil
}

func roleNames(roles []engine.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.String()
	}
	return out
}

func userFromRow(r *ent.User) engine.User {
	u := engine.User{ID: r.ID.String(), DisplayName: r.DisplayName, Email: r.Email, CreatedAt: r.CreatedAt, DeactivatedAt: r.DeactivatedAt}
	for _, name := range r.Roles {
		if role, err := engine.ParseRole(name); err == nil {
			u.Roles = append(u.Roles, role)
		}
	}
	return u
}

func groupFromRow(r *ent.Group, members []*ent.User) engine.Group {
	g := engine.Group{ID: r.ID.String(), Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt}
	for _, m := range members {
		g.MemberIDs = append(g.MemberIDs, m.ID.String())
	}
	return g
}

func keyFromRow(r *ent.ApiKey) engine.APIKey {
	return engine.APIKey{ID: r.ID.String(), UserID: r.UserID.String(), Name: r.Name, Prefix: r.Prefix, Hash: r.Hash,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

func badToken() error {
	return engine.Invalid(engine.Problem{Path: "page_token", Message: "is not a token this service issued"})
}

// cut trims a page fetched with one row extra and returns the position after it.
func cut[T any](rows []T, size int, pos func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, pos(rows[len(rows)-1])
}
