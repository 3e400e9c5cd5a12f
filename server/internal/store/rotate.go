package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/setting"
)

// RotateReport is what RotateSecrets did.
type RotateReport struct {
	// KeyID names the primary key everything is now sealed with (Sealer.KeyID).
	KeyID string
	// Resealed counts the settings groups re-sealed with the primary key; Current those that
	// already were (groups without secrets are not counted).
	Resealed, Current int
	// Unopenable lists the groups no key of the ring opens, each as "id: reason"; they are
	// left as they are.
	Unopenable []string
}

// rotateBatch is how many settings ids are read at a time.
const rotateBatch = 100

// rotateAttempts bounds how often one group is read again because it changed meanwhile.
const rotateAttempts = 10

// RotateSecrets re-seals every stored secret with the primary key of the ring, so that the
// older keys can then be dropped. It is safe to run while replicas serve and to run again:
// each group is re-sealed by one conditional UPDATE (its own transaction) that applies only
// when the group's revision and box are still the ones read, so a group saved meanwhile is read
// again rather than overwritten, and no lock is held while decrypting. The revision, updated_at
// and updated_by are left as they are: a rotation changes no setting, and must not make a
// client's next save (at the revision it read) fail.
func (s *Store) RotateSecrets(ctx context.Context) (RotateReport, error) {
	return s.rotateSecrets(ctx, nil)
}

// rotateSecrets is RotateSecrets with a hook called between reading a group and writing it
// back (tests).
func (s *Store) rotateSecrets(ctx context.Context, beforeWrite func(id string)) (RotateReport, error) {
	if s.sealer == nil {
		return RotateReport{}, errors.New("no secret key is configured: set FLOWHOOK_SECRET_KEY")
	}
	rep := RotateReport{KeyID: s.sealer.KeyID()}
	after := ""
	for {
		ids, err := s.db.Client.Setting.Query().Where(setting.IDGT(after)).
			Order(ent.Asc(setting.FieldID)).Limit(rotateBatch).IDs(ctx)
		if err != nil {
			return rep, translate(err)
		}
		for _, id := range ids {
			if err := s.reseal(ctx, id, &rep, beforeWrite); err != nil {
				return rep, err
			}
		}
		if len(ids) < rotateBatch {
			return rep, nil
		}
		after = ids[len(ids)-1]
	}
}

// reseal re-seals one group with the primary key unless it already is, and counts it in rep.
func (s *Store) reseal(ctx context.Context, id string, rep *RotateReport, beforeWrite func(id string)) error {
	aad := "settings/" + id
	for range rotateAttempts {
		row, err := s.db.Client.Setting.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return translate(err)
		}
		if len(row.SecretBox) == 0 {
			return nil
		}
		raw, primary, err := s.sealer.open(row.SecretBox, aad)
		if err != nil {
			rep.Unopenable = append(rep.Unopenable, fmt.Sprintf("%s: %v", id, err))
			return nil
		}
		if primary && s.sealer.Current(row.SecretBox) {
			rep.Current++
			return nil
		}
		box := s.sealer.Seal(raw, aad)
		if beforeWrite != nil {
			beforeWrite(id)
		}
		n, err := s.db.Client.Setting.Update().
			Where(setting.ID(id), setting.Revision(row.Revision), setting.SecretBox(row.SecretBox)).
			SetSecretBox(box).Save(ctx)
		if err != nil {
			return translate(err)
		}
		if n == 1 {
			rep.Resealed++
			return nil
		}
		// Saved (or deleted) meanwhile: read it again.
	}
	return fmt.Errorf("settings %s changed %d times while being re-sealed; run rotate-secrets again", id, rotateAttempts)
}
