package dlog

import (
	"errors"
	"io/fs"
	"os"
)

// FS is the file system a Log writes to: the operating system's by default;
// tests inject failures through it.
type FS interface {
	// MkdirAll creates dir and its parents.
	MkdirAll(dir string) error
	// OpenAppend opens name for appending, creating it if needed, and
	// returns its size.
	OpenAppend(name string) (File, int64, error)
	// Rename renames from to to, replacing to; a missing from is
	// fs.ErrNotExist.
	Rename(from, to string) error
	// Remove removes name; a missing name is fs.ErrNotExist.
	Remove(name string) error
}

// File is an open log file.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// OSFS is the operating system's file system.
type OSFS struct{}

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// OpenAppend implements FS.
func (OSFS) OpenAppend(name string) (File, int64, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// Rename implements FS.
func (OSFS) Rename(from, to string) error { return os.Rename(from, to) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// ignoreMissing is err unless it says the file was not there.
func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
