package guard

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
)

// fakeSnapshot is a manual cluster snapshot in the fake RDS.
type fakeSnapshot struct {
	cluster, status string
	created         time.Time
	tags            map[string]string
	// pollsLeft is how many more Describe calls see it "creating".
	pollsLeft int
	// finalStatus is what it becomes when pollsLeft reaches 0.
	finalStatus string
}

// snapshotRDS is the RDS API of an account with manual cluster snapshots,
// answering in the query protocol with the documented shapes:
// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBClusterSnapshot.html,
// API_DescribeDBClusterSnapshots.html, API_DeleteDBClusterSnapshot.html.
type snapshotRDS struct {
	mu        sync.Mutex
	snapshots map[string]*fakeSnapshot
	// clusterState is the cluster's status; CreateDBClusterSnapshot needs
	// "available".
	clusterState string
	// polls is how many Describe calls a new snapshot stays "creating".
	polls       int
	finalStatus string
	// clusters are the live clusters DescribeDBClusters reports, by
	// identifier, as DBCluster XML.
	clusters map[string]string
	server   *awstest.Server
}

func snapshotArn(name string) string {
	return "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:" + name
}

func (f *snapshotRDS) xml(name string, s *fakeSnapshot) string {
	var tags strings.Builder
	keys := make([]string, 0, len(s.tags))
	for k := range s.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&tags, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", k, xmlEscape(s.tags[k]))
	}
	return fmt.Sprintf(`<DBClusterSnapshot><DBClusterSnapshotIdentifier>%s</DBClusterSnapshotIdentifier><DBClusterIdentifier>%s</DBClusterIdentifier>`+
		`<SnapshotCreateTime>%s</SnapshotCreateTime><Engine>aurora-postgresql</Engine><Status>%s</Status><SnapshotType>manual</SnapshotType>`+
		`<DBClusterSnapshotArn>%s</DBClusterSnapshotArn><TagList>%s</TagList></DBClusterSnapshot>`,
		name, s.cluster, s.created.UTC().Format(time.RFC3339), s.status, snapshotArn(name), tags.String())
}

// formTags reads the Tags of a query-protocol request (Tags.Tag.N.Key/Value).
func formTags(form url.Values) map[string]string {
	out := map[string]string{}
	for k, v := range form {
		if strings.HasPrefix(k, "Tags.") && strings.HasSuffix(k, ".Key") {
			out[v[0]] = form.Get(strings.TrimSuffix(k, ".Key") + ".Value")
		}
	}
	return out
}

func newSnapshotRDS(t *testing.T) *snapshotRDS {
	f := &snapshotRDS{snapshots: map[string]*fakeSnapshot{}, clusterState: "available", polls: 2, finalStatus: "available", clusters: map[string]string{}}
	f.server = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.Operation {
		case "DescribeDBClusters":
			body, ok := f.clusters[r.Form.Get("DBClusterIdentifier")]
			if !ok {
				return awstest.QueryError(404, "DBClusterNotFoundFault", "DBCluster "+r.Form.Get("DBClusterIdentifier")+" not found.")
			}
			return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusters", "<DBClusters><DBCluster>"+body+"</DBCluster></DBClusters>")
		case "CreateDBClusterSnapshot":
			if f.clusterState != "available" {
				return awstest.QueryError(400, "InvalidDBClusterStateFault", "DBCluster "+r.Form.Get("DBClusterIdentifier")+" is not currently in the available state.")
			}
			name := r.Form.Get("DBClusterSnapshotIdentifier")
			if _, ok := f.snapshots[name]; ok {
				return awstest.QueryError(400, "DBClusterSnapshotAlreadyExistsFault", "Cannot create the snapshot because a snapshot with the identifier "+name+" already exists.")
			}
			s := &fakeSnapshot{cluster: r.Form.Get("DBClusterIdentifier"), status: "creating", created: time.Date(2026, 11, 29, 10, 0, len(f.snapshots), 0, time.UTC),
				tags: formTags(r.Form), pollsLeft: f.polls, finalStatus: f.finalStatus}
			f.snapshots[name] = s
			return awstest.QueryXML(awstest.RDSNS, "CreateDBClusterSnapshot", f.xml(name, s))
		case "DescribeDBClusterSnapshots":
			if name := r.Form.Get("DBClusterSnapshotIdentifier"); name != "" {
				s, ok := f.snapshots[name]
				if !ok {
					return awstest.QueryError(404, "DBClusterSnapshotNotFoundFault", "DBClusterSnapshot "+name+" not found.")
				}
				if s.status == "creating" {
					if s.pollsLeft--; s.pollsLeft < 0 {
						s.status = s.finalStatus
					}
				}
				return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusterSnapshots", "<DBClusterSnapshots>"+f.xml(name, s)+"</DBClusterSnapshots>")
			}
			// Every manual snapshot, two per page, to exercise the marker.
			names := make([]string, 0, len(f.snapshots))
			for n := range f.snapshots {
				names = append(names, n)
			}
			sort.Strings(names)
			start, _ := strconv.Atoi(r.Form.Get("Marker"))
			var b strings.Builder
			end := min(start+2, len(names))
			for _, n := range names[start:end] {
				b.WriteString(f.xml(n, f.snapshots[n]))
			}
			marker := ""
			if end < len(names) {
				marker = "<Marker>" + strconv.Itoa(end) + "</Marker>"
			}
			return awstest.QueryXML(awstest.RDSNS, "DescribeDBClusterSnapshots", "<DBClusterSnapshots>"+b.String()+"</DBClusterSnapshots>"+marker)
		case "DeleteDBClusterSnapshot":
			name := r.Form.Get("DBClusterSnapshotIdentifier")
			s, ok := f.snapshots[name]
			if !ok {
				return awstest.QueryError(404, "DBClusterSnapshotNotFoundFault", "DBClusterSnapshot "+name+" not found.")
			}
			delete(f.snapshots, name)
			s.status = "deleted"
			return awstest.QueryXML(awstest.RDSNS, "DeleteDBClusterSnapshot", f.xml(name, s))
		}
		return awstest.QueryError(400, "InvalidAction", r.Operation)
	})
	return f
}

// add puts an existing snapshot taken before an earlier change.
func (f *snapshotRDS) add(name, path, change, status string, created time.Time) {
	f.snapshots[name] = &fakeSnapshot{cluster: "appstack-database-old", status: status, created: created,
		tags: map[string]string{contract.TagBeforeChange: path, contract.TagChange: change}}
}

func (f *snapshotRDS) count(op string) int {
	n := 0
	for _, o := range f.server.Operations() {
		if o == op {
			n++
		}
	}
	return n
}

const physicalCluster = "appstack-databaseb269d8bb-0abcdefghijk"

// firstSnapshot is the name of the snapshot the guard takes at the test clock.
var firstSnapshot = SnapshotName("AppStack/Database", time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC))

// watched is a cluster entry that asks for snapshots before changes.
func watched(engineVersion string, keep int, source map[string]interface{}) Resource {
	r := cluster(source, restorable)
	r.BeforeChange = &BeforeChange{Watch: map[string]interface{}{"EngineVersion": engineVersion, "DBClusterParameterGroupName": "appstack-pg-1"}, Keep: keep}
	return r
}

// rawWatched renders entries with their BeforeChange, as CloudFormation
// passes them (Keep as a string).
func rawWatched(resources map[string]Resource) map[string]interface{} {
	out := raw(resources, nil)
	for id, r := range resources {
		if r.BeforeChange != nil {
			out[contract.GuardResources].(map[string]interface{})[id].(map[string]interface{})[contract.GuardBeforeChange] = map[string]interface{}{
				contract.GuardWatch: r.BeforeChange.Watch, contract.GuardKeep: strconv.Itoa(r.BeforeChange.Keep),
			}
		}
	}
	return out
}

func snapshotWorld(t *testing.T) (*world, *snapshotRDS, Clients) {
	w, c := newWorld(t)
	w.resources[clusterID] = fakeResource{typ: contract.TypeDBCluster, physical: physicalCluster, status: "UPDATE_COMPLETE", path: "AppStack/Database/Default/Resource"}
	f := newSnapshotRDS(t)
	c.RDS = rds.NewFromConfig(awstest.Config(f.server.URL))
	c.Now = func() time.Time { return time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC) }
	c.SnapshotPoll = time.Millisecond
	return w, f, c
}

func withDeadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestAnEngineUpgradeIsPrecededByASnapshot(t *testing.T) {
	// GIVEN a cluster on PostgreSQL 15, and a deploy that upgrades it to 16
	_, f, c := snapshotWorld(t)
	var logged []string
	log := func(format string, args ...interface{}) { logged = append(logged, fmt.Sprintf(format, args...)) }
	e := update(rawWatched(one(watched("15.8", 3, noSource))), rawWatched(one(watched("16.4", 3, noSource))))
	// WHEN the guard handles it
	_, data, err := c.Handle(withDeadline(t, time.Minute), e, log)
	// THEN it allows the deploy only once a snapshot of the live cluster is
	// available, named after the stack, the construct and the time, and tagged
	require.NoError(t, err)
	name := firstSnapshot
	require.Contains(t, f.snapshots, name)
	s := f.snapshots[name]
	assert.Equal(t, physicalCluster, s.cluster)
	assert.Equal(t, "available", s.status)
	assert.Equal(t, "AppStack/Database", s.tags[contract.TagBeforeChange])
	assert.Equal(t, contract.Fingerprint(map[string]interface{}{"EngineVersion": "16.4", "DBClusterParameterGroupName": "appstack-pg-1"}, nil), s.tags[contract.TagChange])
	assert.Equal(t, 1, f.count("CreateDBClusterSnapshot"))
	assert.GreaterOrEqual(t, f.count("DescribeDBClusterSnapshots"), 3, "the waiter polled until it was available")
	// AND it answers with the rollback command, which a stack output shows
	assert.Equal(t, map[string]interface{}{contract.RollbackAttribute(clusterID): "cdk deploy -c 'AppStack/Database.snapshotArn=" + snapshotArn(name) + "'"}, data)
	assert.Contains(t, strings.Join(logged, "\n"), "rollback: cdk deploy -c 'AppStack/Database.snapshotArn=")
}

func TestNoSnapshotWhenNothingWatchedChanges(t *testing.T) {
	_, f, c := snapshotWorld(t)
	f.add("restorable-appstack-database-20261101-090000", "AppStack/Database", "x", "available", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	// A restore changes the source, not the watched values: no snapshot.
	e := update(rawWatched(one(watched("16.4", 3, noSource))), rawWatched(one(watched("16.4", 3, snapshotA))))
	_, data, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.NoError(t, err)
	assert.Zero(t, f.count("CreateDBClusterSnapshot"))
	// The output keeps naming the newest snapshot taken before a change.
	assert.Equal(t, "cdk deploy -c 'AppStack/Database.snapshotArn="+snapshotArn("restorable-appstack-database-20261101-090000")+"'", data[contract.RollbackAttribute(clusterID)])
	// And before any, it says so.
	delete(f.snapshots, "restorable-appstack-database-20261101-090000")
	same := rawWatched(one(watched("16.4", 3, noSource)))
	_, data, err = c.Handle(withDeadline(t, time.Minute), update(same, same), discard)
	require.NoError(t, err)
	assert.Equal(t, contract.NoSnapshotYet, data[contract.RollbackAttribute(clusterID)])
}

func TestASnapshotThatFailsRefusesTheDeploy(t *testing.T) {
	_, f, c := snapshotWorld(t)
	f.finalStatus = "failed"
	e := update(rawWatched(one(watched("15.8", 3, noSource))), rawWatched(one(watched("16.4", 3, noSource))))
	_, _, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restorable: AppStack/Database: the snapshot "+firstSnapshot+" taken before the change did not become available, so the deploy is refused before it touches the cluster")
}

func TestAClusterThatIsNotAvailableRefusesTheDeploy(t *testing.T) {
	_, f, c := snapshotWorld(t)
	f.clusterState = "modifying"
	e := update(rawWatched(one(watched("15.8", 3, noSource))), rawWatched(one(watched("16.4", 3, noSource))))
	_, _, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not take a snapshot of "+physicalCluster+" before the change (DBClusterParameterGroupName=appstack-pg-1, EngineVersion=16.4), so the deploy is refused before it touches the cluster")
	assert.Contains(t, err.Error(), "InvalidDBClusterStateFault")
}

func TestASlowSnapshotFailsInTimeAndTheNextDeployWaitsOnIt(t *testing.T) {
	// GIVEN a snapshot that takes longer than the guard may wait
	_, f, c := snapshotWorld(t)
	f.polls = 1 << 30
	e := update(rawWatched(one(watched("15.8", 3, noSource))), rawWatched(one(watched("16.4", 3, noSource))))
	// WHEN the guard has 21 seconds left (its margin is 20)
	_, _, err := c.Handle(withDeadline(t, snapshotMargin+time.Second), e, discard)
	// THEN it refuses the deploy in time, before the cluster changes, and
	// says how to go on
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not available after")
	assert.Contains(t, err.Error(), "aws rds wait db-cluster-snapshot-available --db-cluster-snapshot-identifier "+firstSnapshot)
	// AND the next deploy of the same change waits on that snapshot, not a new one
	f.snapshots[firstSnapshot].pollsLeft = 1
	c.Now = func() time.Time { return time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC) }
	_, data, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.NoError(t, err)
	assert.Equal(t, 1, f.count("CreateDBClusterSnapshot"))
	assert.Contains(t, data[contract.RollbackAttribute(clusterID)], firstSnapshot)
}

func TestPruningKeepsTheNewestAndWhatARestoreNames(t *testing.T) {
	// GIVEN four available snapshots from earlier changes, the oldest named by
	// the template's restore source, and one of another cluster
	_, f, c := snapshotWorld(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 0, 0, 0, time.UTC) }
	f.add("restorable-appstack-database-20261101-090000", "AppStack/Database", "a", "available", day(1))
	f.add("restorable-appstack-database-20261102-090000", "AppStack/Database", "b", "available", day(2))
	f.add("restorable-appstack-database-20261103-090000", "AppStack/Database", "c", "available", day(3))
	f.add("restorable-appstack-database-20261104-090000", "AppStack/Database", "d", "available", day(4))
	f.add("restorable-appstack-other-20261101-090000", "AppStack/Other", "a", "available", day(1))
	source := map[string]interface{}{"SnapshotIdentifier": snapshotArn("restorable-appstack-database-20261101-090000")}
	// WHEN a deploy changes the engine version, keeping 2
	e := update(rawWatched(one(watched("15.8", 2, source))), rawWatched(one(watched("16.4", 2, source))))
	_, _, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.NoError(t, err)
	// THEN the new snapshot and the newest older one are kept, the two between
	// are deleted, the restore source's is kept, and the other cluster's too
	var left []string
	for n := range f.snapshots {
		left = append(left, n)
	}
	sort.Strings(left)
	assert.Equal(t, []string{
		"restorable-appstack-database-20261101-090000",
		"restorable-appstack-database-20261104-090000",
		firstSnapshot,
		"restorable-appstack-other-20261101-090000",
	}, left)
	assert.Equal(t, 2, f.count("DeleteDBClusterSnapshot"))
}

func TestNoSnapshotDuringARollback(t *testing.T) {
	w, f, c := snapshotWorld(t)
	w.status = "UPDATE_ROLLBACK_IN_PROGRESS"
	e := update(rawWatched(one(watched("16.4", 3, noSource))), rawWatched(one(watched("15.8", 3, noSource))))
	_, _, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.NoError(t, err)
	assert.Zero(t, f.count("CreateDBClusterSnapshot"))
}

func TestSnapshotNames(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 30, 5, 0, time.UTC)
	valid := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	for _, give := range []string{
		"AppStack/Database",
		"Redmine--Prod/Db_Main/Writer",
		"PaymentsProductionStack/OrdersDatabase",
		strings.Repeat("A", 300),
		"---",
	} {
		got := SnapshotName(give, at)
		assert.LessOrEqual(t, len(got), 63, "RDS takes 1 to 63 characters: %s", got)
		assert.Regexp(t, valid, got, "letters, digits, single hyphens, a letter first, no hyphen last")
		assert.True(t, strings.HasPrefix(got, "restorable-"), got)
		assert.True(t, strings.HasSuffix(got, "-20261129-103005"), got)
	}
	assert.Equal(t, "restorable-appstack-database-"+SnapshotName("AppStack/Database", at)[29:], SnapshotName("AppStack/Database", at))
	// Two long paths that share their first characters get different names.
	long := strings.Repeat("VeryLongStackName", 4)
	assert.NotEqual(t, SnapshotName(long+"/Orders", at), SnapshotName(long+"/Billing", at))
}

func TestAChangeThatComesBackGetsASnapshotOfTodaysData(t *testing.T) {
	// GIVEN a snapshot taken weeks ago for the very change this deploy brings
	// again (A to B, back to A, now to B again)
	_, f, c := snapshotWorld(t)
	change := contract.Fingerprint(map[string]interface{}{"EngineVersion": "16.4", "DBClusterParameterGroupName": "appstack-pg-1"}, nil)
	f.add("restorable-appstack-database-20261101-090000", "AppStack/Database", change, "available", time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	e := update(rawWatched(one(watched("15.8", 3, noSource))), rawWatched(one(watched("16.4", 3, noSource))))
	// WHEN the guard handles it
	_, data, err := c.Handle(withDeadline(t, time.Minute), e, discard)
	require.NoError(t, err)
	// THEN it takes a new snapshot, and the rollback names that one
	assert.Equal(t, 1, f.count("CreateDBClusterSnapshot"))
	assert.Equal(t, "cdk deploy -c 'AppStack/Database.snapshotArn="+snapshotArn(firstSnapshot)+"'", data[contract.RollbackAttribute(clusterID)])
}

func TestAFirstSightUpgradeIsPrecededByASnapshot(t *testing.T) {
	// GIVEN a live cluster on PostgreSQL 15.8 that the guard has never seen
	// (an adoption), and a first deploy that also raises the engine to 16.4
	_, f, c := snapshotWorld(t)
	f.clusters[physicalCluster] = strings.Replace(restoredCluster, "<EngineVersion>16.4</EngineVersion>", "<EngineVersion>15.8</EngineVersion>", 1)
	matching := watched("16.4", 3, snapshotA)
	matching.CreateOnly = map[string]interface{}{"KmsKeyId": keyArn, "DBSubnetGroupName": "appstack-databasesubnetscab2d5d2-kmbtwpuu5ti2", "Engine": "aurora-postgresql"}
	// WHEN the guard is created with the template
	_, data, err := c.Handle(withDeadline(t, time.Minute), create(rawWatched(one(matching))), discard)
	// THEN it compared the engine version with the live cluster's and took a
	// snapshot first, although it had no previous template
	require.NoError(t, err)
	require.Contains(t, f.snapshots, firstSnapshot)
	assert.Equal(t, physicalCluster, f.snapshots[firstSnapshot].cluster)
	assert.Contains(t, data[contract.RollbackAttribute(clusterID)], firstSnapshot)
	// AND a first sight at the live version takes none
	_, f2, c2 := snapshotWorld(t)
	f2.clusters[physicalCluster] = restoredCluster
	for _, version := range []string{"16.4", "16"} {
		_, _, err = c2.Handle(withDeadline(t, time.Minute), create(rawWatched(one(func() Resource {
			r := matching
			r.BeforeChange = &BeforeChange{Watch: map[string]interface{}{"EngineVersion": version}, Keep: 3}
			return r
		}()))), discard)
		require.NoError(t, err)
	}
	assert.Zero(t, f2.count("CreateDBClusterSnapshot"))
}

func TestSeveralClustersSnapshotTogetherAfterOneListing(t *testing.T) {
	// GIVEN three clusters upgraded in one deploy, each snapshot taking a
	// while, and a dozen older snapshots in the account
	w, f, c := snapshotWorld(t)
	delete(w.resources, clusterID)
	f.polls = 3
	for i := 0; i < 12; i++ {
		f.add(fmt.Sprintf("restorable-appstack-older-%02d", i), fmt.Sprintf("AppStack/Other%02d", i), "x", "available", time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC))
	}
	before, after := map[string]Resource{}, map[string]Resource{}
	for _, name := range []string{"Orders", "Billing", "Users"} {
		id := name + "B269D8BB"
		w.resources[id] = fakeResource{typ: contract.TypeDBCluster, physical: "appstack-" + strings.ToLower(name), status: "UPDATE_COMPLETE"}
		old, next := watched("15.8", 3, noSource), watched("16.4", 3, noSource)
		old.Path, next.Path = "AppStack/"+name, "AppStack/"+name
		before[id], after[id] = old, next
	}
	// WHEN the guard handles the deploy
	_, data, err := c.Handle(withDeadline(t, time.Minute), update(rawWatched(before), rawWatched(after)), discard)
	require.NoError(t, err)
	// THEN every snapshot was started before the guard waited on any
	ops := f.server.Requests()
	firstWait, lastCreate := -1, -1
	listings := 0
	for i, r := range ops {
		switch {
		case r.Operation == "CreateDBClusterSnapshot":
			lastCreate = i
		case r.Operation == "DescribeDBClusterSnapshots" && r.Form.Get("DBClusterSnapshotIdentifier") != "":
			if firstWait < 0 {
				firstWait = i
			}
		case r.Operation == "DescribeDBClusterSnapshots" && r.Form.Get("Marker") == "":
			listings++
		}
	}
	assert.Equal(t, 3, f.count("CreateDBClusterSnapshot"))
	assert.Less(t, lastCreate, firstWait, "all three started before the first wait")
	// AND the account's snapshots were listed once, for the whole deploy
	assert.Equal(t, 1, listings)
	for id := range after {
		assert.Contains(t, data[contract.RollbackAttribute(id)], "snapshotArn=")
	}
}

func TestAKnownClusterThatStartsBeingWatchedIsComparedWithTheLiveVersion(t *testing.T) {
	// GIVEN a plain cluster the guard knew (an entry without snapshots), on
	// PostgreSQL 15.8, and a deploy that adopts it into restorable, whose
	// snapshots are on by default, and raises the engine to 16.4
	_, f, c := snapshotWorld(t)
	f.clusters[physicalCluster] = strings.Replace(restoredCluster, "<EngineVersion>16.4</EngineVersion>", "<EngineVersion>15.8</EngineVersion>", 1)
	plain := cluster(noSource, restorable)
	plain.Plain = true
	adopted := watched("16.4", 3, noSource)
	// WHEN the guard handles it
	_, data, err := c.Handle(withDeadline(t, time.Minute), update(rawWatched(one(plain)), rawWatched(one(adopted))), discard)
	// THEN it took a snapshot first
	require.NoError(t, err)
	assert.Equal(t, 1, f.count("CreateDBClusterSnapshot"))
	assert.Contains(t, data[contract.RollbackAttribute(clusterID)], firstSnapshot)
}
