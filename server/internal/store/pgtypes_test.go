package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

var someUUID = uuid.MustParse("01938f0e-7b7c-7a3e-9d1f-2c3b4a5d6e7f")

// TestUUIDEncodePlan: a google/uuid UUID is encoded as its 16 bytes, without the detour
// through its text that pgx takes for a driver.Valuer (which allocates an error and a parse
// for every parameter). Not parallel: AllocsPerRun counts the whole process's allocations.
func TestUUIDEncodePlan(t *testing.T) {
	u := someUUID
	encode := func(m *pgtype.Map) []byte {
		buf, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u, nil)
		require.NoError(t, err)
		return buf
	}
	plain, taught := pgtype.NewMap(), pgtype.NewMap()
	store.RegisterTypes(taught)
	require.Equal(t, u[:], encode(taught))
	require.Equal(t, encode(plain), encode(taught), "the same bytes as pgx's own way")
	taughtAllocs, plainAllocs := testing.AllocsPerRun(100, func() { encode(taught) }), testing.AllocsPerRun(100, func() { encode(plain) })
	t.Logf("allocations a parameter: %v taught, %v pgx alone", taughtAllocs, plainAllocs)
	require.Less(t, taughtAllocs, plainAllocs)
}

// TestUUIDParameters: with the store's type map, every way flowhook passes a UUID still
// reaches PostgreSQL as it did: a uuid, a text, a pointer (nil or not), a slice, through pgx
// and through database/sql.
func TestUUIDParameters(t *testing.T) {
	t.Parallel()
	u := someUUID

	db := dbtest.Open(t, store.Postgres)
	ctx := context.Background()
	var nilID *uuid.UUID
	var (
		asUUID, viaPtr uuid.UUID
		asText         string
		isNull         bool
		many           []uuid.UUID
	)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT $1::uuid, $1::text, $2::uuid, $3::uuid IS NULL, $4::uuid[]`,
		u, &u, nilID, []uuid.UUID{u, uuid.Nil}).Scan(&asUUID, &asText, &viaPtr, &isNull, &many))
	require.Equal(t, u, asUUID)
	require.Equal(t, u.String(), asText, "a text parameter gets the UUID's text, as before")
	require.Equal(t, u, viaPtr)
	require.True(t, isNull)
	require.Equal(t, []uuid.UUID{u, uuid.Nil}, many)
	var n int
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM instances WHERE id = $1`, u).Scan(&n),
		"through database/sql too")
	require.Zero(t, n)
}
