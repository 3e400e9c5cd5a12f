package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent"
	"github.com/flowhook/flowhook/ent/signeddocument"
	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Signed documents: a mark on the work item, not a job per document.
//
// A work item that finishes with a document to keep (a DocuSign envelope completed, a OneSpan
// package signed) needs its document fetched from the provider. The engine says so with a
// fetch_document job among the result's effects. The store does not insert that job into
// River: it sets the work item's document_due_at in the same write as the resolution (in the
// transition's own statement on PostgreSQL, which then needs no transaction), and once it
// commits tells the queue (CommitWatcher), which fetches the document in-process at once.
// Saving the document clears the mark (SaveDocument; ClearDocumentDue when there is none).
//
// A mark still set a while later (the replica died before the fetch, the provider failed) is
// handed to a real fetch_document job by the leader's sweep (HandOverDueDocuments), which
// River retries with backoff as before. So a document is never lost, and in the common case
// it costs the download and one statement, not River's insert, fetch and completion of a job
// (measured: those were most of a DocuSign completion's cost).

// documentsDue separates the fetch_document jobs of jobs (their work items' ids) from the jobs
// River inserts.
func documentsDue(jobs []engine.Job) (river []engine.Job, due []uuid.UUID) {
	for _, j := range jobs {
		if f, ok := j.(engine.FetchDocumentJob); ok {
			if id, err := uuid.Parse(f.WorkItemID); err == nil {
				due = append(due, id)
				continue
			}
		}
		river = append(river, j)
	}
	if len(due) == 0 {
		return jobs, nil
	}
	return river, due
}

// markDocumentDue sets a work item's document due, in tx. It leaves updated_at and the revision
// alone: the mark is not part of the work item's state as the engine decides on it.
func markDocumentDue(ctx context.Context, tx txn, id uuid.UUID) error {
	query, args := entsql.Dialect(tx.dialect).Update(workitem.Table).
		Set(workitem.FieldDocumentDueAt, dbTime(now())).
		Where(entsql.EQ(workitem.FieldID, id)).Query()
	_, err := tx.sql.ExecContext(ctx, query, args...)
	return err
}

// saveDocumentsSQL keeps documents and clears their work items' marks in one statement
// (PostgreSQL), the instances' ids read from the work items; it returns the work items found.
const saveDocumentsSQL = `WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::timestamptz[])
    AS x(work_item_id, id, content_type, name, content, sha256, created_at)
), w AS (
  SELECT w.id, w.instance_id FROM work_items AS w WHERE w.id = ANY($1::uuid[])
), c AS (
  UPDATE work_items SET document_due_at = NULL WHERE id = ANY($1::uuid[]) AND document_due_at IS NOT NULL
), d AS (
  INSERT INTO signed_documents (id, instance_id, work_item_id, content_type, name, content, sha256, created_at)
  SELECT x.id, w.instance_id, x.work_item_id, x.content_type, x.name, x.content, x.sha256, x.created_at
  FROM x JOIN w ON w.id = x.work_item_id
  ON CONFLICT (work_item_id) DO NOTHING
)
SELECT id FROM w`

// SaveDocument keeps a work item's signed document, unless one is kept already (a second
// fetch keeps the first), and clears the work item's due mark.
func (s *Store) SaveDocument(ctx context.Context, workItemID, name, contentType string, content []byte) error {
	return s.SaveDocuments(ctx, []engine.SignedDocument{{WorkItemID: workItemID, Name: name, ContentType: contentType, Content: content}})
}

// SaveDocuments is SaveDocument for several work items at once: one statement on PostgreSQL
// (the in-process fetcher keeps what its fetches brought together). The documents whose work
// item is unknown are not kept, and the error names them (ErrNotFound); the others are.
func (s *Store) SaveDocuments(ctx context.Context, docs []engine.SignedDocument) error {
	ids := make([][16]byte, 0, len(docs))
	seen := make(map[uuid.UUID]bool, len(docs))
	var kept []engine.SignedDocument
	for _, d := range docs {
		wid, err := parseID("work item", d.WorkItemID)
		if err != nil {
			return err
		}
		if !seen[wid] { // the first of two fetches of one document is kept
			seen[wid] = true
			ids = append(ids, wid)
			kept = append(kept, d)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	at := now()
	found := make(map[uuid.UUID]bool, len(kept))
	if s.db.Dialect == Postgres {
		docIDs, types, names, contents, sums, times := make([][16]byte, len(kept)), make([]string, len(kept)), make([]string, len(kept)),
			make([][]byte, len(kept)), make([]string, len(kept)), make([]time.Time, len(kept))
		for i, d := range kept {
			sum := sha256.Sum256(d.Content)
			docIDs[i], types[i], names[i], contents[i], sums[i], times[i] = uuid.Must(uuid.NewV7()), d.ContentType, d.Name, d.Content,
				hex.EncodeToString(sum[:]), at
		}
		// On the batches pool, whose sessions plan it once (DB.Batches): on the main pool,
		// PostgreSQL planned it again for every call, which took longer than running it
		// (0.22 ms against 0.15 ms for one document, in the statement log).
		rows, err := s.batches().statements().query(ctx, saveDocumentsSQL, ids, docIDs, types, names, contents, sums, times)
		if err != nil {
			return translate(err)
		}
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return translate(err)
			}
			found[id] = true
		}
		if err := rows.Err(); err != nil {
			return translate(err)
		}
	} else {
		err := s.inTx(ctx, func(tx txn) error {
			for i, d := range kept {
				wi, err := tx.WorkItem.Get(ctx, ids[i])
				if ent.IsNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				found[wi.ID] = true
				sum := sha256.Sum256(d.Content)
				err = tx.SignedDocument.Create().SetInstanceID(wi.InstanceID).SetWorkItemID(wi.ID).SetName(d.Name).
					SetContentType(d.ContentType).SetContent(d.Content).SetSha256(hex.EncodeToString(sum[:])).SetCreatedAt(at).
					OnConflictColumns(signeddocument.FieldWorkItemID).DoNothing().Exec(ctx)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if err := clearDocumentDue(ctx, tx.sql, tx.dialect, wi.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return translate(err)
		}
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, uuid.UUID(id).String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: work item %s", engine.ErrNotFound, strings.Join(missing, ", "))
	}
	return nil
}

// ClearDocumentDue clears a work item's due mark when there is no document to keep (the
// provider keeps none, the work item did not finish).
func (s *Store) ClearDocumentDue(ctx context.Context, workItemID string) error {
	wid, err := parseID("work item", workItemID)
	if err != nil {
		return err
	}
	return translate(clearDocumentDue(ctx, s.db.SQL, s.entDialect(), wid))
}

func clearDocumentDue(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, dialect string, id uuid.UUID) error {
	query, args := entsql.Dialect(dialect).Update(workitem.Table).SetNull(workitem.FieldDocumentDueAt).
		Where(entsql.And(entsql.EQ(workitem.FieldID, id), entsql.NotNull(workitem.FieldDocumentDueAt))).Query()
	_, err := db.ExecContext(ctx, query, args...)
	return err
}

// HandOverDueDocuments enqueues a fetch_document job for each work item whose document has been
// due since before cutoff (at most limit, the longest due first), clearing its mark, in one
// transaction, and says how many it handed over. On PostgreSQL a work item another
// transaction holds is skipped, not waited for. From then on River runs the fetch and retries
// it with backoff.
func (s *Store) HandOverDueDocuments(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return s.handOverMarks(ctx, workitem.Table, workitem.FieldDocumentDueAt,
		func(id uuid.UUID) engine.Job { return engine.FetchDocumentJob{WorkItemID: id.String()} },
		func(tx txn) ([]uuid.UUID, error) {
			q := tx.WorkItem.Query().Where(workitem.DocumentDueAtLT(dbTime(cutoff))).
				Order(workitem.ByDocumentDueAt(), workitem.ByID()).Limit(limit)
			if tx.locks {
				q = q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
			}
			return q.IDs(ctx)
		})
}

// DocumentsDue counts the work items whose document is still due (fetched neither in-process
// nor by a job yet): the flowhook.documents.due gauge. The partial index holds only them.
func (s *Store) DocumentsDue(ctx context.Context) (int64, error) {
	n, err := s.db.Client.WorkItem.Query().Where(workitem.DocumentDueAtNotNil()).Count(ctx)
	return int64(n), translate(err)
}
