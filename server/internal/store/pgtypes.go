package store

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerTypes teaches a connection's type map the Go types flowhook passes that pgx does not
// know. google/uuid's UUID is a driver.Valuer whose Value is its text: pgx encoded every uuid
// parameter by trying that text in binary (building an error it then dropped), parsing it back
// and encoding the bytes, about 3% of the server's CPU in a OneSpan completion. With the plan
// below a UUID reaches pgx's uuid codec as its 16 bytes; where they cannot go (a text
// parameter), pgx goes on to the Valuer as before.
func registerTypes(m *pgtype.Map) {
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUIDEncodePlan}, m.TryWrapEncodePlanFuncs...)
}

func tryWrapUUIDEncodePlan(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	if u, ok := value.(uuid.UUID); ok {
		return &uuidEncodePlan{}, [16]byte(u), true
	}
	return nil, nil, false
}

type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode([16]byte(value.(uuid.UUID)), buf)
}
