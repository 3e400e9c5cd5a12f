package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/store"
)

// rotateSecrets runs `flowhook rotate-secrets`: it re-seals every stored secret with the first
// key of the ring, prints what it did on stdout, and fails when a secret opens with no key.
func rotateSecrets(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, err := load(config.RotateSecrets, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	var keys [][]byte
	switch {
	case cfg.SecretKey != "":
		keys, err = store.ParseSecretKeys(cfg.SecretKey)
	case cfg.Embedded():
		// Never create a key here: a new key would open nothing already stored.
		keys, err = store.LoadSecretKeys(cfg.DataDir)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no secret key: FLOWHOOK_SECRET_KEY is not set and %s does not exist",
				filepath.Join(cfg.DataDir, store.SecretKeyFile))
		}
	default:
		return errors.New("FLOWHOOK_SECRET_KEY is not set: rotate-secrets needs the key ring, the new key first")
	}
	if err != nil {
		return err
	}
	sealer, err := store.NewSealer(keys[0], keys[1:]...)
	if err != nil {
		return err
	}
	if cfg.Embedded() {
		// Opening the embedded database creates it when missing; there is nothing to rotate then.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, store.SQLiteFile)); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no embedded database in %s (set -data-dir, or FLOWHOOK_DATABASE_URL for PostgreSQL)", cfg.DataDir)
		}
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: store.MinMaxConns})
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := store.New(db).WithSealer(sealer).RotateSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-sealed %d settings groups with key %s; %d already were\n", rep.Resealed, rep.KeyID, rep.Current)
	log.InfoContext(ctx, "secrets re-sealed", "resealed", rep.Resealed, "current", rep.Current,
		"unopenable", len(rep.Unopenable), "primary_key_id", rep.KeyID, "keys", sealer.Keys())
	if len(rep.Unopenable) > 0 {
		return fmt.Errorf("%d settings groups open with no key of the ring (add the key that sealed them to FLOWHOOK_SECRET_KEY, or save their secrets again): %s",
			len(rep.Unopenable), strings.Join(rep.Unopenable, "; "))
	}
	if sealer.Keys() > 1 {
		fmt.Fprintf(stdout, "every stored secret is sealed with the first key: the %d older keys can now be dropped from the ring\n", sealer.Keys()-1)
	}
	return nil
}
