// Package store is the only importer of ent: it opens the database (PostgreSQL through one pgx
// pool, or an embedded SQLite file), applies the versioned migrations, implements the engine's
// Store port, and translates database errors into the engine's sentinel errors.
package store
