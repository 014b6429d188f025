package mover

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The lock makes the mover the only one working on a file system. It is a
// directory, /.restorable/lock, that holds the lease of the invocation that
// owns it. An invocation takes it by building its own directory with its lease
// inside, then renaming that directory to "lock": rename(2) onto an existing,
// non-empty directory fails (EEXIST or ENOTEMPTY), so of two movers exactly one
// wins, and the lock never exists without a lease in it. A lease names its
// request and expires after the longest an invocation can run; an expired
// lock is broken by renaming it to "lock.broken-<its token>", which fails too
// when another mover has broken it first. Every step that changes the file
// system runs under the lock.

const (
	lockName   = "lock"
	leaseName  = "lease.json"
	tmpPrefix  = "lock.tmp-"
	brokenName = "lock.broken-"
	freedName  = "lock.released-"
)

// ErrBusy reports that another invocation holds the lock.
var ErrBusy = errors.New("mover: another restore step holds the file system's lock")

type lease struct {
	Token     string    `json:"token"`
	RequestID string    `json:"requestId"`
	Expires   time.Time `json:"expires"`
}

// held is a lock this invocation holds.
type held struct {
	state dir
	token string
}

// acquire takes the lock for requestID until now+leaseFor.
func acquire(state dir, requestID string, now time.Time, leaseFor time.Duration) (*held, error) {
	token := newToken()
	tmp := tmpPrefix + token
	for attempt := 0; attempt < 3; attempt++ {
		mine, err := state.ensure(tmp)
		if err != nil {
			return nil, err
		}
		raw, _ := json.Marshal(lease{Token: token, RequestID: requestID, Expires: now.Add(leaseFor)})
		err = mine.write(leaseName, raw)
		mine.close()
		if err != nil {
			return nil, err
		}
		err = unix.Renameat(state.fd, tmp, state.fd, lockName)
		if err == nil {
			return &held{state: state, token: token}, nil
		}
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return nil, fmt.Errorf("mover: take the lock: %w", err)
		}
		current, err := readLease(state, lockName)
		switch {
		case err != nil:
			// Released between the rename and the read: try again.
			continue
		case now.Before(current.Expires):
			discardTree(state, tmp)
			return nil, fmt.Errorf("%w (request %s, until %s)", ErrBusy, current.RequestID, current.Expires.UTC().Format(time.RFC3339))
		}
		// Expired: its invocation ended without releasing it. Break it; if
		// another mover broke it first, the rename fails, and the loop reads
		// the new lock.
		_ = unix.Renameat(state.fd, lockName, state.fd, brokenName+current.Token)
	}
	discardTree(state, tmp)
	return nil, fmt.Errorf("%w (it changed hands while this step waited)", ErrBusy)
}

// release gives the lock up, if it is still this invocation's.
func (h *held) release() error {
	current, err := readLease(h.state, lockName)
	if err != nil || current.Token != h.token {
		return fmt.Errorf("mover: the lock is no longer this step's (it was broken after its lease expired)")
	}
	freed := freedName + h.token
	if err := unix.Renameat(h.state.fd, lockName, h.state.fd, freed); err != nil {
		return fmt.Errorf("mover: release the lock: %w", err)
	}
	discardTree(h.state, freed)
	return nil
}

// stillHeld reports whether the lock is still this invocation's.
func (h *held) stillHeld() bool {
	current, err := readLease(h.state, lockName)
	return err == nil && current.Token == h.token
}

func readLease(state dir, name string) (lease, error) {
	d, err := state.sub(name)
	if err != nil {
		return lease{}, err
	}
	defer d.close()
	raw, err := d.read(leaseName)
	if err != nil {
		return lease{}, err
	}
	var l lease
	err = json.Unmarshal(raw, &l)
	return l, err
}

// cleanLocks removes the directories of released and broken locks, and the
// temporary ones of invocations that lost a race, that are older than a day.
func cleanLocks(state dir, now time.Time) {
	names, err := state.names()
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n, brokenName) && !strings.HasPrefix(n, freedName) && !strings.HasPrefix(n, tmpPrefix) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(state.fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && now.Sub(time.Unix(st.Mtim.Unix())) > 24*time.Hour {
			discardTree(state, n)
		}
	}
}

func discardTree(d dir, name string) {
	_, _ = d.removeTree(name, func() bool { return true })
}

func newToken() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
