package api_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flowhook/flowhook/ent"
	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// The shape of the data BenchmarkInstanceLists seeds.
const (
	listBenchInstances = 100_000
	listBenchUsers     = 200
	listBenchGroups    = 50
	listBenchPage      = 50
	listBenchSpan      = 365 * 24 * time.Hour // created_at runs over the last year
)

// listBenchWorkflowWeights is how the instances spread over the published workflows.
var listBenchWorkflowWeights = []float64{40, 25, 15, 12, 8}

// BenchmarkInstanceLists measures ListAssignedToMe and ListInstances end to end (Connect over
// HTTP/1.1 to a real server on PostgreSQL) on 100,000 instances across 200 users and 50 groups,
// per call, and logs the plans of the SQL those calls issue (EXPLAIN ANALYZE), so that
//
//	go test ./server/internal/api/ -run '^$' -bench BenchmarkInstanceLists -benchtime 1s -v
//
// shows whether the indexes keep both lists fast as data grows.
//
// The instances are written straight into the table (COPY), as the engine keeps them: the
// assignee columns set only while ACTIVE in the HUMAN state "review", the provider kept after
// the EXTERNAL state "sign", UUIDv7 ids carrying the created_at instant. Older instances are
// mostly closed and newer ones mostly open (~40% ACTIVE, ~20% WAITING_EXTERNAL, ~30% COMPLETED,
// ~10% CANCELLED overall), and group assignments are skewed (team 0 gets the most), since both
// decide which plans are good.
func BenchmarkInstanceLists(b *testing.B) {
	bundle := setup(b, store.Postgres)
	ctx := context.Background()
	fx := seedListBench(b, bundle)

	type listCase struct {
		name   string
		filter *flowhookv1.InstanceFilter
	}
	mid := fx.oldest.Add(listBenchSpan / 2)
	lists := []listCase{
		{"All", nil},
		{"StatusActive", &flowhookv1.InstanceFilter{Status: flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE}},
		{"WorkflowState", &flowhookv1.InstanceFilter{WorkflowId: fx.workflowIDs[0], StateKey: "review"}},
		{"WorkflowStatus", &flowhookv1.InstanceFilter{WorkflowId: fx.workflowIDs[0], Status: flowhookv1.InstanceStatus_INSTANCE_STATUS_ACTIVE}},
		{"ProviderExternalID", &flowhookv1.InstanceFilter{Provider: flowhookv1.Provider_PROVIDER_DOCUSIGN, ExternalId: fx.externalID}},
		// A week half a year ago, the last week, and everything before half a year ago.
		{"CreatedRangeMid", &flowhookv1.InstanceFilter{CreatedAfter: timestamppb.New(mid), CreatedBefore: timestamppb.New(mid.Add(7 * 24 * time.Hour))}},
		{"CreatedRangeRecent", &flowhookv1.InstanceFilter{CreatedAfter: timestamppb.New(fx.newest.Add(-7 * 24 * time.Hour))}},
		{"CreatedBeforeMid", &flowhookv1.InstanceFilter{CreatedBefore: timestamppb.New(mid)}},
	}
	type assignedCase struct {
		name string
		user listBenchUser
	}
	assigned := []assignedCase{
		{"Hot", fx.hot},     // in the three busiest groups
		{"Quiet", fx.quiet}, // in the quietest group only
		{"Late", fx.late},   // in no group, assigned only the newest instances
		{"Busy", fx.busy},   // in no group, half the ACTIVE instances of the newest third
	}

	// The plans, once, untimed; the lists an admin filters first, then the one every user calls,
	// then the data, so that the end of the log says the most.
	ex := newListBenchExplainer(bundle)
	for _, c := range lists {
		ex.explain(b, "ListInstances/"+c.name, func(ctx context.Context, cl *ent.Client) error {
			_, _, _, err := explainStore(cl, ex.db).ListInstances(ctx, engineFilter(c.filter), engine.Page{Size: listBenchPage})
			return err
		})
	}
	for _, c := range assigned {
		b.Logf("ListAssignedToMe/%s: user %s in %d groups, %d ACTIVE instances assigned to the user or the groups",
			c.name, c.user.id, len(c.user.groupIDs), fx.assignedCount(c.user))
		ex.explain(b, "ListAssignedToMe/"+c.name, func(ctx context.Context, cl *ent.Client) error {
			_, _, err := explainStore(cl, ex.db).ListAssigned(ctx, c.user.id, c.user.groupIDs, engine.Page{Size: listBenchPage})
			return err
		})
	}
	b.Log(fx.summary)

	for _, c := range assigned {
		b.Run("ListAssignedToMe/"+c.name, func(b *testing.B) {
			cl := bundle.as(c.user.key).instances
			req := &flowhookv1.ListAssignedToMeRequest{PageSize: listBenchPage}
			var rows int
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				res, err := cl.ListAssignedToMe(ctx, connect.NewRequest(req))
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				rows = len(res.Msg.GetInstances())
			}
			b.ReportMetric(float64(rows), "rows/op")
			reportLatency(b, lat)
		})
	}
	for _, c := range lists {
		b.Run("ListInstances/"+c.name, func(b *testing.B) {
			req := &flowhookv1.ListInstancesRequest{Filter: c.filter, PageSize: listBenchPage}
			var rows int
			var total int64
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				res, err := bundle.instances.ListInstances(ctx, connect.NewRequest(req))
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				rows, total = len(res.Msg.GetInstances()), res.Msg.GetTotalSize()
			}
			b.ReportMetric(float64(rows), "rows/op")
			reportLatency(b, lat)
			b.ReportMetric(float64(total), "total_size")
		})
	}
}

// reportLatency reports the p50 and p99 of the calls' latencies (the target is p99 < 10 ms).
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// listBenchUser is a seeded user with an API key.
type listBenchUser struct {
	id, key  string
	groupIDs []string
}

// listBenchFixture is what seedListBench made.
type listBenchFixture struct {
	workflowIDs    []string
	hot, quiet     listBenchUser
	late           listBenchUser // in no group; assigned only among the newest 2% of instances
	busy           listBenchUser // in no group; half the ACTIVE ones of the newest third
	externalID     string        // of a WAITING_EXTERNAL instance
	oldest, newest time.Time
	// ACTIVE instances per assignee (user or group id).
	activeByAssignee map[string]int
	summary          string // what was seeded, how fast
}

func (fx *listBenchFixture) assignedCount(u listBenchUser) int {
	n := fx.activeByAssignee[u.id]
	for _, g := range u.groupIDs {
		n += fx.activeByAssignee[g]
	}
	return n
}

// seedListBench creates the users, groups, keys and workflows through the API, and the
// instances with COPY.
func seedListBench(b *testing.B, bundle *testBundle) *listBenchFixture {
	b.Helper()
	ctx := context.Background()
	started := time.Now()
	rng := rand.New(rand.NewPCG(2026, 11))

	groupIDs := make([]string, listBenchGroups)
	for i := range groupIDs {
		res, err := bundle.identity.CreateGroup(ctx, connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: fmt.Sprintf("team-%02d", i)}))
		if err != nil {
			b.Fatal(err)
		}
		groupIDs[i] = res.Msg.GetGroup().GetId()
	}
	userIDs := make([]string, listBenchUsers)
	for i := range userIDs {
		res, err := bundle.identity.CreateUser(ctx, connect.NewRequest(&flowhookv1.CreateUserRequest{
			DisplayName: fmt.Sprintf("Bench User %03d", i),
			Email:       fmt.Sprintf("bench.user.%03d@example.com", i),
			Roles:       []flowhookv1.Role{flowhookv1.Role_ROLE_USER},
		}))
		if err != nil {
			b.Fatal(err)
		}
		userIDs[i] = res.Msg.GetUser().GetId()
	}
	// User 0 is in the three busiest groups, user 1 in the quietest only, users 2 and 3 in
	// none (2 a newcomer, assigned only recent instances; 3 a busy approver, assigned half of
	// the recent ones), the others in 1–3 groups at random.
	members := make([][]int, listBenchUsers)
	members[0] = []int{0, 1, 2}
	members[1] = []int{listBenchGroups - 1}
	for u := 4; u < listBenchUsers; u++ {
		members[u] = rng.Perm(listBenchGroups)[:1+rng.IntN(3)]
	}
	for u, gs := range members {
		for _, g := range gs {
			if _, err := bundle.identity.AddGroupMember(ctx, connect.NewRequest(&flowhookv1.AddGroupMemberRequest{GroupId: groupIDs[g], UserId: userIDs[u]})); err != nil {
				b.Fatal(err)
			}
		}
	}
	keyed := make([]listBenchUser, 4)
	for u := range keyed {
		res, err := bundle.identity.CreateApiKey(ctx, connect.NewRequest(&flowhookv1.CreateApiKeyRequest{UserId: userIDs[u], Name: "bench"}))
		if err != nil {
			b.Fatal(err)
		}
		// The groups as the server resolves them for the caller.
		who, err := bundle.as(res.Msg.GetSecret()).identity.WhoAmI(ctx, connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
		if err != nil {
			b.Fatal(err)
		}
		keyed[u] = listBenchUser{id: userIDs[u], key: res.Msg.GetSecret(), groupIDs: who.Msg.GetGroupIds()}
	}

	type workflow struct{ id, name string }
	workflows := make([]workflow, len(listBenchWorkflowWeights))
	for i := range workflows {
		name := fmt.Sprintf("Contract signing %d", i+1)
		res, err := bundle.design.CreateWorkflow(ctx, connect.NewRequest(&flowhookv1.CreateWorkflowRequest{Workflow: bundle.draft(name)}))
		if err != nil {
			b.Fatal(err)
		}
		id := res.Msg.GetWorkflow().GetId()
		if _, err := bundle.design.PublishWorkflow(ctx, connect.NewRequest(&flowhookv1.PublishWorkflowRequest{WorkflowId: id, ExpectedRevision: 1})); err != nil {
			b.Fatal(err)
		}
		workflows[i] = workflow{id: id, name: name}
	}
	apiDone := time.Now()

	// Group assignments follow 1/(rank+1): team 0 gets ~22% of them, team 49 under 0.5%.
	groupWeights := make([]float64, listBenchGroups)
	for i := range groupWeights {
		groupWeights[i] = 1 / float64(i+1)
	}
	pick := func(weights []float64) int {
		var sum float64
		for _, w := range weights {
			sum += w
		}
		x := rng.Float64() * sum
		for i, w := range weights {
			if x -= w; x < 0 {
				return i
			}
		}
		return len(weights) - 1
	}

	fx := &listBenchFixture{activeByAssignee: map[string]int{}}
	for _, w := range workflows {
		fx.workflowIDs = append(fx.workflowIDs, w.id)
	}
	fx.hot, fx.quiet, fx.late, fx.busy = keyed[0], keyed[1], keyed[2], keyed[3]
	now := time.Now().UTC().Truncate(time.Millisecond)
	fx.oldest = now.Add(-listBenchSpan)
	step := listBenchSpan / listBenchInstances // ~315 s
	form := []byte("{}")
	statuses := map[string]int{}
	rows := make([][]any, listBenchInstances)
	for i := range rows {
		age := float64(i) / listBenchInstances // 0 oldest, 1 newest
		// Strictly increasing in i: the jitter stays below the step.
		created := fx.oldest.Add(time.Duration(i)*step + time.Duration(rng.Int64N(int64(step*9/10)))).Truncate(time.Millisecond)
		id := listBenchUUIDv7(created, rng)
		updated := created.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		if updated.After(now) {
			updated = now
		}
		w := workflows[pick(listBenchWorkflowWeights)]
		startedBy := uuid.MustParse(userIDs[rng.IntN(listBenchUsers)])
		var requestID, assigneeUser, assigneeGroup, provider, externalID, endedAt any
		if rng.IntN(10) < 3 {
			requestID = fmt.Sprintf("req-%06d", i)
		}
		envelope := func() string { return strings.ToUpper(uuid.New().String()) }
		var state, status, reason string
		// Open with probability 0.15 (a year ago) to 1 (now): ~60% overall, 2/3 of it ACTIVE.
		if open := min(1, 0.15+0.9*age); rng.Float64() < open {
			if rng.IntN(3) < 2 {
				state, status = "review", "ACTIVE"
				switch {
				case age > 0.98 && rng.IntN(2) == 0:
					// The newcomer's: a planner that takes its instances for spread over the
					// table walks the primary key from the oldest to find them.
					assigneeUser = fx.late.id
					fx.activeByAssignee[fx.late.id]++
				case age > 2.0/3 && rng.IntN(2) == 0:
					// The busy approver's: a tenth of the table, all recent. The planner
					// takes them for spread over the table too, and for plenty: the primary
					// key from the oldest looked cheaper than the user's own index.
					assigneeUser = fx.busy.id
					fx.activeByAssignee[fx.busy.id]++
				case rng.IntN(4) == 0:
					u := userIDs[rng.IntN(listBenchUsers)]
					assigneeUser = u
					fx.activeByAssignee[u]++
				default:
					g := groupIDs[pick(groupWeights)]
					assigneeGroup = g
					fx.activeByAssignee[g]++
				}
			} else {
				state, status = "sign", "WAITING_EXTERNAL"
				provider, externalID = "DOCUSIGN", envelope()
				if fx.externalID == "" && age > 0.5 {
					fx.externalID = externalID.(string)
				}
			}
		} else {
			endedAt = updated
			switch x := rng.IntN(40); {
			case x < 21: // signed
				state, status = "done", "COMPLETED"
				provider, externalID = "DOCUSIGN", envelope()
			case x < 30: // rejected in review
				state, status = "rejected", "COMPLETED"
			case x < 35: // cancelled in review
				state, status, reason = "review", "CANCELLED", "withdrawn by the requester"
			default: // cancelled while waiting for the signature
				state, status, reason = "sign", "CANCELLED", "contract superseded"
				provider, externalID = "DOCUSIGN", envelope()
			}
		}
		statuses[status]++
		rows[i] = []any{id, created, updated, uuid.MustParse(w.id), int32(1), w.name, state, status, form, int64(1),
			startedBy, requestID, assigneeUser, assigneeGroup, provider, externalID, reason, endedAt}
		fx.newest = created
	}
	cols := []string{"id", "created_at", "updated_at", "workflow_id", "version", "workflow_name", "state_key", "status", "form_data", "revision",
		"started_by", "request_id", "assignee_user_id", "assignee_group_id", "provider", "external_id", "reason", "ended_at"}
	db := bundle.app.DB()
	n, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"instances"}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		b.Fatal(err)
	}
	if n != listBenchInstances {
		b.Fatalf("copied %d instances, want %d", n, listBenchInstances)
	}
	// A settled table, as autovacuum leaves it: statistics, and the visibility map that lets
	// count(*) use index-only scans. Without it, autovacuum would kick in during the runs.
	if _, err := db.SQL.ExecContext(ctx, "VACUUM (ANALYZE) instances"); err != nil {
		b.Fatal(err)
	}
	var size string
	if err := db.SQL.QueryRowContext(ctx, "SELECT pg_size_pretty(pg_total_relation_size('instances'))").Scan(&size); err != nil {
		b.Fatal(err)
	}
	fx.summary = fmt.Sprintf("seeded %d users, %d groups, %d workflows through the API in %s; %d instances (%v) by COPY + VACUUM ANALYZE in %s; instances table with indexes: %s",
		listBenchUsers, listBenchGroups, len(workflows), apiDone.Sub(started).Round(time.Millisecond), n, statuses,
		time.Since(apiDone).Round(time.Millisecond), size)
	return fx
}

// listBenchUUIDv7 returns a UUIDv7 of the instant t, as uuid.NewV7 makes them at t.
func listBenchUUIDv7(t time.Time, rng *rand.Rand) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], rng.Uint64())
	binary.BigEndian.PutUint64(u[0:], uint64(t.UnixMilli())<<16|uint64(rng.Uint32()&0x0fff))
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u
}

// listBenchExplainer runs store queries through an Ent client that records the statements,
// then explains each of them.
type listBenchExplainer struct {
	db     *sql.DB
	rec    *listBenchRecorder
	client *ent.Client
}

func newListBenchExplainer(bundle *testBundle) *listBenchExplainer {
	db := bundle.app.DB().SQL
	rec := &listBenchRecorder{Driver: entsql.OpenDB(dialect.Postgres, db)}
	// Not closed: closing it would close the app's *sql.DB.
	return &listBenchExplainer{db: db, rec: rec, client: ent.NewClient(ent.Driver(rec))}
}

// explain runs issue, then logs the plan of every statement it issued: the custom plan for its
// arguments, which a connection's first executions of a statement use, and the plan a cached
// prepared statement settles on. pgx prepares and caches every statement per connection, and
// after five executions PostgreSQL (plan_cache_mode=auto) switches to the generic plan when its
// estimated cost is no higher than the custom plans'; the steady state of a busy server.
func (e *listBenchExplainer) explain(b *testing.B, name string, issue func(context.Context, *ent.Client) error) {
	b.Helper()
	ctx := context.Background()
	e.rec.reset()
	if err := issue(ctx, e.client); err != nil {
		b.Fatal(err)
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	const explain = "EXPLAIN (ANALYZE, BUFFERS off, FORMAT TEXT) "
	for _, st := range e.rec.reset() {
		name := name + " (page)"
		switch {
		case strings.HasPrefix(st.query, "EXPLAIN"):
			b.Logf("EXPLAIN %s (total_size estimated past the exact count's bound)\n    %s -- args %v", strings.TrimSuffix(name, " (page)"), st.query, st.args)
			continue
		case strings.HasPrefix(strings.ToUpper(st.query), "SELECT COUNT"):
			name = strings.TrimSuffix(name, " (page)") + " (count for total_size)"
		}
		custom := listBenchPlan(ctx, b, conn, explain+st.query, st.args...)
		msg := fmt.Sprintf("EXPLAIN %s\n    %s -- args %v\n%s", name, shortSelect(st.query), st.args, indentPlan(custom))
		if len(st.args) == 0 {
			b.Log(msg)
			continue
		}
		if _, err := conn.ExecContext(ctx, "PREPARE listbench_stmt AS "+st.query); err != nil {
			b.Fatalf("%s: prepare: %v", name, err)
		}
		lits := make([]string, len(st.args))
		for i, a := range st.args {
			lits[i] = listBenchLiteral(a)
		}
		var steady []string
		for range 6 {
			steady = listBenchPlan(ctx, b, conn, explain+"EXECUTE listbench_stmt("+strings.Join(lits, ", ")+")")
		}
		if _, err := conn.ExecContext(ctx, "DEALLOCATE listbench_stmt"); err != nil {
			b.Fatal(err)
		}
		kind := "custom"
		if strings.Contains(strings.Join(steady, "\n"), "$1") {
			kind = "generic"
		}
		if planShape(steady) == planShape(custom) {
			b.Logf("%s\n    from the 6th execution on a connection: the %s plan, of the same shape", msg, kind)
		} else {
			b.Logf("%s\n    from the 6th execution on a connection: the %s plan, of another shape:\n%s", msg, kind, indentPlan(steady))
		}
	}
}

// shortSelect abbreviates the column list of a SELECT of whole instances.
func shortSelect(q string) string {
	const cols = `SELECT "instances"."id", "instances"."created_at", `
	if i := strings.Index(q, ` FROM "instances"`); strings.HasPrefix(q, cols) && i > 0 {
		return "SELECT <the 18 columns>" + q[i:]
	}
	return q
}

// listBenchPlan runs an EXPLAIN and returns its lines.
func listBenchPlan(ctx context.Context, b *testing.B, conn *sql.Conn, query string, args ...any) []string {
	b.Helper()
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		b.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return plan
}

// listBenchLiteral is a statement argument as an SQL literal of unknown type, for EXECUTE.
func listBenchLiteral(a any) string {
	s := fmt.Sprint(a)
	switch v := a.(type) {
	case time.Time:
		s = v.Format(time.RFC3339Nano)
	case []string: // an array's literal; the ids passed this way need no quoting
		s = "{" + strings.Join(v, ",") + "}"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// planShape is a plan's nodes without their costs, timings and conditions.
func planShape(plan []string) string {
	var nodes []string
	for _, l := range plan {
		if i := strings.Index(l, "  (cost="); i >= 0 {
			nodes = append(nodes, strings.TrimPrefix(strings.TrimSpace(l[:i]), "->  "))
		}
	}
	return strings.Join(nodes, " / ")
}

// indentPlan is a plan for the log, without its planning time.
func indentPlan(plan []string) string {
	var lines []string
	for _, l := range plan {
		if !strings.HasPrefix(l, "Planning Time:") {
			lines = append(lines, "    "+l)
		}
	}
	return strings.Join(lines, "\n")
}

type listBenchStatement struct {
	query string
	args  []any
}

// listBenchRecorder is an Ent driver that records the queries it passes on.
type listBenchRecorder struct {
	dialect.Driver
	mu    sync.Mutex
	stmts []listBenchStatement
}

func (r *listBenchRecorder) Query(ctx context.Context, query string, args, v any) error {
	a, _ := args.([]any)
	r.mu.Lock()
	r.stmts = append(r.stmts, listBenchStatement{query: query, args: a})
	r.mu.Unlock()
	return r.Driver.Query(ctx, query, args, v)
}

// QueryContext is how the store counts a list's matches (store.Store.total).
func (r *listBenchRecorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.mu.Lock()
	r.stmts = append(r.stmts, listBenchStatement{query: query, args: args})
	r.mu.Unlock()
	return r.Driver.(*entsql.Driver).QueryContext(ctx, query, args...)
}

func (r *listBenchRecorder) reset() []listBenchStatement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

// explainStore is the real store over the explainer's recording client, so that the plans are
// those of the statements store.ListInstances and store.ListAssigned really issue.
func explainStore(cl *ent.Client, db *sql.DB) *store.Store {
	return store.New(&store.DB{Dialect: store.Postgres, SQL: db, Client: cl})
}

// providerOf is the engine's name of a proto provider ("DOCUSIGN"), as the API maps it.
func providerOf(p flowhookv1.Provider) engine.Provider {
	if p == flowhookv1.Provider_PROVIDER_UNSPECIFIED {
		return engine.ProviderUnspecified
	}
	return engine.Provider(strings.TrimPrefix(p.String(), "PROVIDER_"))
}

// engineFilter is the filter the API hands the store for a request's filter.
func engineFilter(f *flowhookv1.InstanceFilter) engine.InstanceFilter {
	out := engine.InstanceFilter{
		WorkflowID: f.GetWorkflowId(),
		Version:    f.GetVersion(),
		StateKey:   f.GetStateKey(),
		Status:     engine.InstanceStatus(f.GetStatus()),
		Provider:   providerOf(f.GetProvider()),
		ExternalID: f.GetExternalId(),
		StartedBy:  f.GetStartedBy(),
	}
	if t := f.GetCreatedAfter(); t != nil {
		out.CreatedAfter = t.AsTime()
	}
	if t := f.GetCreatedBefore(); t != nil {
		out.CreatedBefore = t.AsTime()
	}
	return out
}
