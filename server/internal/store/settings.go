package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/setting"
	"github.com/flowhook/flowhook/server/internal/engine"
)

var _ engine.SettingsStore = (*Store)(nil)

// GetSettings returns a settings group with its secrets opened; a group never saved is empty
// at revision 0.
func (s *Store) GetSettings(ctx context.Context, id string) (engine.Settings, error) {
	row, err := s.db.Client.Setting.Get(ctx, id)
	if ent.IsNotFound(err) {
		return engine.Settings{ID: id, Plain: map[string]any{}, Secrets: map[string]string{}}, nil
	}
	if err != nil {
		return engine.Settings{}, translate(err)
	}
	out := engine.Settings{ID: id, Plain: row.Plain, Secrets: map[string]string{}, Revision: row.Revision,
		UpdatedAt: row.UpdatedAt, UpdatedBy: row.UpdatedBy}
	if out.Plain == nil {
		out.Plain = map[string]any{}
	}
	if len(row.SecretBox) > 0 {
		// Neither heals by trying again: the operator restarts flowhook with the key the
		// secrets were sealed with (FailedPrecondition, in words a caller can act on; the key
		// id names no secret), where an unclassified error answered a bare "internal error".
		if s.sealer == nil {
			return engine.Settings{}, fmt.Errorf("%w: settings %s hold secrets but no secret key is configured: "+
				"start flowhook with the FLOWHOOK_SECRET_KEY they were saved with", engine.ErrFailedPrecondition, id)
		}
		raw, err := s.sealer.Open(row.SecretBox, "settings/"+id)
		if err != nil {
			return engine.Settings{}, fmt.Errorf("%w: settings %s: %w; start flowhook with the key they were saved with "+
				"(the first of FLOWHOOK_SECRET_KEY, the old one after it while rotate-secrets runs)", engine.ErrFailedPrecondition, id, err)
		}
		if err := json.Unmarshal(raw, &out.Secrets); err != nil {
			return engine.Settings{}, fmt.Errorf("settings %s secrets: %w", id, err)
		}
	}
	return out, nil
}

// SettingsRevision reads a settings group's revision and the time it was saved alone (0 and
// the zero time when it was never saved), as GetSettings reads them: a provider client built
// already is checked against them, with no secrets opened. The revision alone does not name
// what was saved: a group deleted and saved again starts at revision 1 again.
func (s *Store) SettingsRevision(ctx context.Context, id string) (int64, time.Time, error) {
	var rev int64
	var at time.Time
	err := s.queryRow(ctx, settingsRevisionSQL[s.entDialect()], id).Scan(&rev, &at)
	if noRow(err) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, translate(err)
	}
	return rev, at, nil
}

var settingsRevisionSQL = byDialect(func(b *entsql.DialectBuilder) string {
	query, _ := b.Select(setting.FieldRevision, setting.FieldUpdatedAt).From(b.Table(setting.Table)).
		Where(entsql.EQ(setting.FieldID, "")).Query()
	return query
})

// PutSettings saves a settings group when it is still at expectedRevision (0: never saved).
func (s *Store) PutSettings(ctx context.Context, in engine.Settings, expectedRevision int64) (engine.Settings, error) {
	var box []byte
	if len(in.Secrets) > 0 {
		if s.sealer == nil {
			return engine.Settings{}, fmt.Errorf("%w: secrets cannot be saved: set FLOWHOOK_SECRET_KEY (base64 of 32 random bytes, the same on every replica)", engine.ErrFailedPrecondition)
		}
		raw, err := json.Marshal(in.Secrets)
		if err != nil {
			return engine.Settings{}, err
		}
		box = s.sealer.Seal(raw, "settings/"+in.ID)
	}
	now := now()
	var err error
	if expectedRevision == 0 {
		err = s.db.Client.Setting.Create().SetID(in.ID).SetPlain(in.Plain).SetSecretBox(box).
			SetUpdatedAt(now).SetUpdatedBy(in.UpdatedBy).Exec(ctx)
		if err != nil && (isUniqueViolation(err) || ent.IsConstraintError(err)) {
			return engine.Settings{}, fmt.Errorf("%w: the settings were saved concurrently; read them again", engine.ErrConflict)
		}
	} else {
		var n int
		n, err = s.db.Client.Setting.Update().Where(setting.ID(in.ID), setting.Revision(expectedRevision)).
			SetPlain(in.Plain).SetSecretBox(box).SetUpdatedAt(now).SetUpdatedBy(in.UpdatedBy).AddRevision(1).Save(ctx)
		if err == nil && n == 0 {
			return engine.Settings{}, fmt.Errorf("%w: the settings changed since revision %d; read them again", engine.ErrConflict, expectedRevision)
		}
	}
	if err != nil {
		return engine.Settings{}, translate(err)
	}
	return s.GetSettings(ctx, in.ID)
}

// ListSettings returns up to limit groups whose id starts with prefix and sorts after after.
func (s *Store) ListSettings(ctx context.Context, prefix, after string, limit int) ([]engine.Settings, int64, error) {
	hasPrefix := func(sel *entsql.Selector) { sel.Where(entsql.HasPrefix(sel.C(setting.FieldID), prefix)) }
	total, err := s.db.Client.Setting.Query().Where(hasPrefix).Count(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	q := s.db.Client.Setting.Query().Where(hasPrefix)
	if after != "" {
		q = q.Where(setting.IDGT(after))
	}
	ids, err := q.Order(ent.Asc(setting.FieldID)).Limit(limit).IDs(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	out := make([]engine.Settings, 0, len(ids))
	for _, id := range ids {
		st, err := s.GetSettings(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if st.Revision > 0 { // deleted meanwhile
			out = append(out, st)
		}
	}
	return out, int64(total), nil
}

// DeleteSettings removes a settings group.
func (s *Store) DeleteSettings(ctx context.Context, id string) error {
	n, err := s.db.Client.Setting.Delete().Where(setting.ID(id)).Exec(ctx)
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return fmt.Errorf("%w: settings %s", engine.ErrNotFound, id)
	}
	return nil
}
