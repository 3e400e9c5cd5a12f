package store

import "context"

// RotateSecretsWithHook is RotateSecrets calling beforeWrite between reading a group and
// writing it back, so that a test can change the group in between.
func RotateSecretsWithHook(ctx context.Context, s *Store, beforeWrite func(id string)) (RotateReport, error) {
	return s.rotateSecrets(ctx, beforeWrite)
}
