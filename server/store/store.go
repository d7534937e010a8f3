// Package store keeps esa-connect serve's state in an embedded bbolt database (one file under serve's
// data directory): every task's definition and status, and each site's custom log fields. Every
// change is committed (fsync) before it returns, so a change that was answered survives SIGKILL.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file in the data directory.
const FileName = "serve.db"

var (
	tasksBucket      = []byte("tasks")
	customLogsBucket = []byte("custom_logs")
)

// Status values of a task.
const (
	// Online tasks receive and deliver records.
	Online = "online"
	// Offline tasks are paused: they receive nothing.
	Offline = "offline"
	// PendingVerification tasks (AWS S3 and S3-compatible destinations) wait for the ownership token
	// of the challenge object written at creation; they receive nothing until verified.
	PendingVerification = "pending_verification"
)

// Task is a stored task.
type Task struct {
	// Name is the task's name (unique).
	Name string `json:"name"`
	// Definition holds the task's parameters in ESA's shape as the API received them (values as
	// strings, delivery objects as JSON strings), ready for config.Load once marshalled.
	Definition map[string]string `json:"definition"`
	// Status is Online, Offline or PendingVerification.
	Status string `json:"status"`
	// Reason says why a task was set offline by serve itself (e.g. no successful delivery for too
	// long); "" when a user paused it.
	Reason string `json:"reason,omitempty"`
	// Created and Updated are when the task was created and last changed.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// DefinitionJSON is the definition as a JSON object, the input of config.Load.
func (t *Task) DefinitionJSON() []byte {
	b, _ := json.Marshal(t.Definition) // a map of strings always marshals
	return b
}

// CustomLog is a site's custom log fields (CreateSiteCustomLog): the request and response headers
// and cookies added to the site's access-log records.
type CustomLog struct {
	SiteID          int64    `json:"site_id"`
	RequestHeaders  []string `json:"request_headers"`
	ResponseHeaders []string `json:"response_headers"`
	Cookies         []string `json:"cookies"`
	// ConfigID identifies the configuration (ESA's ConfigId).
	ConfigID int64 `json:"config_id"`
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// ErrNotFound is returned for a task or custom log that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when creating a task whose name is taken.
var ErrExists = errors.New("already exists")

// Open opens (creating when missing) the database in dir, which is created with mode 0700. The file
// holds the tasks' credentials: it is created with mode 0600. A second process on the same directory
// waits up to 5 s for the lock and then fails.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: creating the data directory: %w", err)
	}
	p := filepath.Join(dir, FileName)
	db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store: %s is in use by another esa-connect serve", p)
		}
		return nil, fmt.Errorf("store: opening %s: %w", p, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{tasksBucket, customLogsBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: initialising %s: %w", p, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Create stores a new task; ErrExists when its name is taken.
func (s *Store) Create(t *Task) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(tasksBucket)
		if b.Get([]byte(t.Name)) != nil {
			return fmt.Errorf("task %s: %w", t.Name, ErrExists)
		}
		return put(b, t)
	})
}

// Update applies change to the stored task name within one transaction; the task is stored again
// when change returns nil (Updated is set). It returns the task as stored.
func (s *Store) Update(name string, change func(*Task) error) (*Task, error) {
	var out *Task
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(tasksBucket)
		t, err := get(b, name)
		if err != nil {
			return err
		}
		if err := change(t); err != nil {
			return err
		}
		t.Updated = time.Now().UTC()
		out = t
		return put(b, t)
	})
	return out, err
}

// Delete removes a task; ErrNotFound when it does not exist.
func (s *Store) Delete(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(tasksBucket)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("task %s: %w", name, ErrNotFound)
		}
		return b.Delete([]byte(name))
	})
}

// Get returns a task; ErrNotFound when it does not exist.
func (s *Store) Get(name string) (*Task, error) {
	var t *Task
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = get(tx.Bucket(tasksBucket), name)
		return err
	})
	return t, err
}

// List returns every task, by name.
func (s *Store) List() ([]*Task, error) {
	var out []*Task
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(tasksBucket).ForEach(func(k, v []byte) error {
			t := &Task{}
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("task %s: decoding: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// PutCustomLog stores a site's custom log fields; create true fails with ErrExists when the site
// has them already, false with ErrNotFound when it has none.
func (s *Store) PutCustomLog(c *CustomLog, create bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(customLogsBucket)
		key := []byte(fmt.Sprint(c.SiteID))
		old := b.Get(key)
		switch {
		case create && old != nil:
			return fmt.Errorf("custom log of site %d: %w", c.SiteID, ErrExists)
		case !create && old == nil:
			return fmt.Errorf("custom log of site %d: %w", c.SiteID, ErrNotFound)
		}
		if create {
			id, _ := b.NextSequence()
			c.ConfigID = int64(id)
		} else {
			var prev CustomLog
			if err := json.Unmarshal(old, &prev); err == nil {
				c.ConfigID = prev.ConfigID
			}
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put(key, v)
	})
}

// CustomLog returns a site's custom log fields; ErrNotFound when it has none.
func (s *Store) CustomLog(siteID int64) (*CustomLog, error) {
	var c *CustomLog
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(customLogsBucket).Get([]byte(fmt.Sprint(siteID)))
		if v == nil {
			return fmt.Errorf("custom log of site %d: %w", siteID, ErrNotFound)
		}
		c = &CustomLog{}
		return json.Unmarshal(v, c)
	})
	return c, err
}

func get(b *bolt.Bucket, name string) (*Task, error) {
	v := b.Get([]byte(name))
	if v == nil {
		return nil, fmt.Errorf("task %s: %w", name, ErrNotFound)
	}
	t := &Task{}
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("task %s: decoding: %w", name, err)
	}
	return t, nil
}

func put(b *bolt.Bucket, t *Task) error {
	v, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("task %s: encoding: %w", t.Name, err)
	}
	return b.Put([]byte(t.Name), v)
}
