package migrate

import "embed"

// Files holds the versioned migrations (goose format), one directory per dialect: postgres/
// and sqlite/. They are generated from the ent schema by server/cmd/migrationgen and committed;
// the store applies them at start-up.
//
//go:embed postgres sqlite
var Files embed.FS
