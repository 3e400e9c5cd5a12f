package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/instance"
	"github.com/flowhook/flowhook/ent/webhookevent"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Callbacks read with their write (PostgreSQL).
//
// A callback that is read back (OneSpan's) is stored PENDING, and its processing began with a
// read of its work item, its instance and whether an earlier callback of the item waits
// (WorkItemForCallback): a round trip of its own for every callback, a fifth of the server's
// CPU under OneSpan ingest. The group commit reads the same for the callbacks of a batch that
// ask for it (StoredEvent.ReadForCallback) in a second statement sent with the batch's write
// in one pgx batch: PostgreSQL runs the two in one implicit transaction, so the read sees the
// batch's own events (an earlier callback stored in the same batch holds a later one back, as
// it would for a read after the commit) and costs no round trip of its own. The processing
// of each callback starts from it (ProcessEventJob.Read).
//
// A callback whose item has another notification in the same batch is not read: which of
// them its processing follows is decided in memory afterwards, and its read would be taken
// before the other's write. What the read finds may move on before the processing writes (a
// job of another replica's, an API call): the processing's write then conflicts and it
// reads again, as after a read of its own.

// callbackReadSQL reads, for each callback (its event id, system, external id and provider
// time, as arrays), every column of the work item of its id, every column of the work item's
// instance, and whether an earlier callback of the same item is PENDING (earlierPendingSQL's
// condition). A callback whose id no work item has returns no row.
var callbackReadSQL = func() string {
	cols := make([]string, 0, len(workitem.Columns)+len(instance.Columns))
	for _, c := range workitem.Columns {
		cols = append(cols, `w."`+c+`"`)
	}
	for _, c := range instance.Columns {
		cols = append(cols, `i."`+c+`"`)
	}
	return fmt.Sprintf(`SELECT x.id, %s, EXISTS (SELECT 1 FROM %s e WHERE e.%s = x.provider AND e.%s = x.external_id
    AND e.%s = '%s' AND (e.%s < x.at OR (e.%s = x.at AND e.%s < x.id)))
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS x(id, provider, external_id, at)
JOIN %s w ON w.%s = x.provider AND w.%s = x.external_id
JOIN %s i ON i.%s = w.%s`,
		strings.Join(cols, ", "), webhookevent.Table, webhookevent.FieldProvider, webhookevent.FieldExternalID,
		webhookevent.FieldVerdict, webhookevent.VerdictPENDING, webhookevent.FieldProviderTime,
		webhookevent.FieldProviderTime, webhookevent.FieldID,
		workitem.Table, workitem.FieldProvider, workitem.FieldExternalID,
		instance.Table, instance.FieldID, workitem.FieldInstanceID)
}()

// callbackReads are the callbacks of a batch to read with its write, as callbackReadSQL takes
// them.
type callbackReads struct {
	id                   [][16]byte
	provider, externalID []string
	at                   []time.Time
}

// readsOf picks the callbacks of batch to read with its write: stored PENDING without a
// result, asking for it, with the provider's time, and the only notification of their item in
// the batch.
func readsOf(batch []*inbound) callbackReads {
	var c callbackReads
	if !slices.ContainsFunc(batch, func(in *inbound) bool { return in.ev.ReadForCallback }) {
		return c // a DocuSign or connector batch: nothing to read
	}
	items := make(map[string]int, len(batch))
	for _, in := range batch {
		items[itemKeyOf(in.ev)]++
	}
	for _, in := range batch {
		ev := in.ev
		if in.result != nil || ev.Verdict != engine.VerdictPending || !ev.ReadForCallback || ev.Event.OccurredAt.IsZero() ||
			items[itemKeyOf(ev)] > 1 {
			continue
		}
		c.id = append(c.id, in.id)
		c.provider = append(c.provider, ev.Event.System.String())
		c.externalID = append(c.externalID, ev.Event.ExternalID)
		c.at = append(c.at, dbTime(ev.Event.OccurredAt))
	}
	return c
}

// itemKeyOf is the item a notification is about: its system and external id.
func itemKeyOf(ev engine.StoredEvent) string {
	return ev.Event.System.String() + "\x00" + ev.Event.ExternalID
}

// writeAndRead runs the batch's statement (query, one of writeBatchSQLs) with args and
// callbackReadSQL for reads in one pgx batch (one round trip, one implicit transaction): the
// write's tagged ids, and what was read for each callback that has a work item, by its event
// id.
func writeAndRead(ctx context.Context, pool *pgxpool.Pool, query string, args []any, reads callbackReads) (map[string]map[uuid.UUID]bool, map[uuid.UUID]*engine.CallbackRead, error) {
	var pb pgx.Batch
	pb.Queue(query, args...)
	pb.Queue(callbackReadSQL, reads.id, reads.provider, reads.externalID, reads.at)
	br := pool.SendBatch(ctx, &pb)
	ids, err := taggedIDs(br.Query())
	var read map[uuid.UUID]*engine.CallbackRead
	if err == nil {
		read, err = scanCallbackReads(br.Query())
	}
	// Close reads to the batch's end, the commit's answer: an error there or in either
	// statement means nothing was written.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	return ids, read, nil
}

// scanCallbackReads reads callbackReadSQL's rows.
func scanCallbackReads(r rows, err error) (map[uuid.UUID]*engine.CallbackRead, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := map[uuid.UUID]*engine.CallbackRead{}
	for r.Next() {
		var (
			id   uuid.UUID
			w    ent.WorkItem
			in   ent.Instance
			form []byte
			cr   engine.CallbackRead
		)
		dest := append([]any{&id}, inOrder(workItemColumns(&w), workitem.Columns)...)
		dest = append(append(dest, inOrder(instanceColumns(&in, &form), instance.Columns)...), &cr.Earlier)
		if err := r.Scan(dest...); err != nil {
			return nil, err
		}
		in.FormData = form
		if cr.Instance, err = instanceFromRow(&in); err != nil {
			return nil, err
		}
		cr.WorkItem = workItemFromRow(&w)
		out[id] = &cr
	}
	return out, r.Err()
}
