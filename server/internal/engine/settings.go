package engine

import (
	"context"
	"time"
)

// Settings is one named group of settings: plain values, and secrets that are kept sealed at
// rest and never returned by the API.
type Settings struct {
	ID        string
	Plain     map[string]any
	Secrets   map[string]string
	Revision  int64 // 0: never saved
	UpdatedAt time.Time
	UpdatedBy string
}

// SettingsStore keeps settings groups.
type SettingsStore interface {
	GetSettings(ctx context.Context, id string) (Settings, error)
	// PutSettings saves the group when it is still at expectedRevision; ErrConflict otherwise.
	PutSettings(ctx context.Context, s Settings, expectedRevision int64) (Settings, error)
}

// Settings group ids.
const (
	SettingsDocuSign = "provider.docusign"
	SettingsOneSpan  = "provider.onespan"
	SettingsSecurity = "security"
)
