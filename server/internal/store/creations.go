package store

import (
	"context"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/flowhook/flowhook/ent/workitem"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// Work items to create: a mark on the work item, not a job per creation.
//
// An instance that enters an EXTERNAL state gets a new work item, CREATING, and the engine says
// "create it at its provider" with a create_work_item job. The store does not insert that job
// into River: it writes the work item with its create_due_at set, and once the write commits
// tells the queue (CommitWatcher), which creates the item in-process at once, as the job's
// first attempt would. The coupling clears the mark, and so does the item's failure or its
// closing (CoupleWorkItem, FailWorkItem, CloseWorkItem).
//
// What in-process creation cannot finish (the provider failed or did not answer, the replica
// stopped) is handed to a real create_work_item job (HandOverCreations) with Retried set: the
// provider may have created the item before its answer was lost, so the job looks for it by
// our id before creating one, and an item is never created twice. That job is scheduled a
// while later (the worker says when), not at once: a provider may still be creating the item
// of a request flowhook abandoned, and a lookup before it is done would miss it and create a
// second. What it could not start (its queue was full, the replica stopped first) is handed
// over at once, without Retried: nothing reached the provider. A mark still set a while later (the replica died) is
// handed over by the leader's sweep (HandOverDueCreations), with Retried set. In-process creation is bounded by the job
// timeout, and the sweep's grace is longer, so a job never races the in-process attempt it
// takes over. In the common case a creation costs its provider calls and the coupling, not
// River's insert, fetch and completion of a job (measured: a fifth of PostgreSQL's statement
// time for a start into an EXTERNAL state).

// createsDue separates the first creations of new work items (create_work_item jobs, not
// Retried, of an item among items) from the jobs River inserts, and says which items to mark.
func createsDue(jobs []engine.Job, items []engine.WorkItem) (river, due []engine.Job, marked map[string]bool) {
	if len(items) == 0 {
		return jobs, nil, nil
	}
	river = jobs[:0:0]
	for _, j := range jobs {
		c, ok := j.(engine.CreateWorkItemJob)
		if !ok || c.Retried {
			river = append(river, j)
			continue
		}
		for i := range items {
			if items[i].ID == c.WorkItemID {
				if marked == nil {
					marked = map[string]bool{}
				}
				marked[c.WorkItemID] = true
				wi := items[i]
				c.Item = &wi
				due = append(due, c)
				break
			}
		}
		if !marked[c.WorkItemID] {
			river = append(river, j)
		}
	}
	return river, due, marked
}

// HandOverCreations gives each work item whose creation is still due (of ids) a
// create_work_item job, clearing its mark, in one transaction: what in-process creation could
// not finish, or did not start, River does. retried says an in-process attempt may have
// reached the provider: the job then looks for the item by our id first; one that never
// started (the queue was full, or the replica stopped first) creates it at once. notBefore,
// when set, is when the jobs may run (River's scheduled_at): a retried hand-over gives the
// provider time to finish what the attempt abandoned; zero runs them at once. A work item no
// longer due (coupled, failed, handed over already) is left alone.
func (s *Store) HandOverCreations(ctx context.Context, retried bool, notBefore time.Time, ids ...string) error {
	in := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		wid, err := parseID("work item", id)
		if err != nil {
			return err
		}
		in = append(in, wid)
	}
	if len(in) == 0 {
		return nil
	}
	_, err := s.handOverCreations(ctx, retried, notBefore, func(tx txn) ([]uuid.UUID, error) {
		q := tx.WorkItem.Query().Where(workitem.IDIn(in...), workitem.CreateDueAtNotNil())
		if tx.locks {
			q = q.ForUpdate()
		}
		return q.IDs(ctx)
	})
	return err
}

// HandOverDueCreations gives each work item whose creation is due since before cutoff (at
// most limit, the longest due first) its create_work_item job, with Retried set (an in-process
// attempt may have reached the provider before its replica died), clearing its mark, in one
// transaction, and says how many it handed over. On PostgreSQL a work item another
// transaction holds is skipped, not waited for. Their jobs run at once: the mark is older than
// the grace, far longer than a provider takes to finish a request.
func (s *Store) HandOverDueCreations(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return s.handOverCreations(ctx, true, time.Time{}, func(tx txn) ([]uuid.UUID, error) {
		q := tx.WorkItem.Query().Where(workitem.CreateDueAtLT(dbTime(cutoff))).
			Order(workitem.ByCreateDueAt(), workitem.ByID()).Limit(limit)
		if tx.locks {
			q = q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
		}
		return q.IDs(ctx)
	})
}

func (s *Store) handOverCreations(ctx context.Context, retried bool, notBefore time.Time, pick func(tx txn) ([]uuid.UUID, error)) (int, error) {
	return s.handOverMarks(ctx, workitem.Table, workitem.FieldCreateDueAt,
		func(id uuid.UUID) engine.Job {
			return engine.CreateWorkItemJob{WorkItemID: id.String(), Retried: retried, NotBefore: notBefore}
		}, pick)
}

// CreationsDue counts the work items whose creation is still due (neither coupled nor failed
// in-process, nor handed to a job yet): the flowhook.creations.due gauge. The partial index
// holds only them.
func (s *Store) CreationsDue(ctx context.Context) (int64, error) {
	n, err := s.db.Client.WorkItem.Query().Where(workitem.CreateDueAtNotNil()).Count(ctx)
	return int64(n), translate(err)
}
