// Package writeback holds what a mount has written and not yet saved, and saves it. It
// knows nothing of FUSE: package fs calls it with explicit inputs (a Store, an OpenBase
// reader of the version a file started from, the metadata to store), and a fake Store
// (internal/memstore) drives it in unit tests.
//
// # A write, file by file
//
//   - engine.go: one Engine per mount holds the Store, the write budget (budget.go, the
//     --write-buffer bound on all files' unsaved pages), the upload slots shared with the
//     mount's server-side copies, and the set of files with content.
//   - file.go: Engine.Open starts a File from its base (key, ETag, size). File.Write
//     puts bytes into 1 MiB pages taken from the budget; a page written in part is first
//     filled from the base through Base (in the mount, a page-cache reader pinned to the
//     base's ETag), so pages always hold the whole truth. File.ReadAt reads pages, then
//     the base, then zeros. File.Truncate cuts pages and the base.
//   - budget.go, reclaim.go, spill.go: a write that finds the budget spent first has the
//     engine seal the pages of the file holding the most into the spill file (AES-256-GCM
//     under a key that exists only in this process; the file is unlinked at once), then
//     waits, bounded, for uploads to free memory.
//   - stream.go: a new file written front to back, that no one reads while it is
//     written, sends each part as soon as the writer has passed it, to a multipart
//     upload of its own, so files larger than memory pass through the budget, and a
//     save waits only for the last part. The first part is S3's smallest (5 MiB), so
//     that a file of one part or two streams too; its pages come back to the file once
//     sent, so that a writer that goes back to fill in a header can (the part is then
//     sent again), and, while no other part has left, the file can still be saved
//     whole elsewhere (a conflict's copy beside) or cut. The upload carries the
//     metadata of when it began; attributes set later (File.MetaChanged: cp -a, tar x)
//     have the save give the stream up while it can, else copy the object onto itself
//     with them once completed.
//   - save.go: File.Save (on close or fsync) sends one keyed PutObject for a file up to
//     the part size, else a multipart upload whose untouched ranges of the base are
//     copied server-side (UploadPartCopy) and the rest read from the file by a
//     rangeReader (rangereader.go) as each part is sent, or completes the stream. Every
//     save is conditional on the base (If-Match its ETag; If-None-Match for a new file):
//     if another writer got there first, the content is saved beside theirs as
//     NAME.conflict-<UTC time> and Save answers a *ConflictError. A failed multipart
//     upload is aborted; the object keeps its old version and the File stays dirty.
//
// # Metrics
//
// observe.go: Engine.Stats reads the memory of unsaved pages, the spill and the upload
// slots taken when asked; Config.Observer is told of each conflict.
//
// # Locks
//
// File.saveMu (one save at a time), then Engine.mu, then File.mu, then the budget's and
// the spill file's mutexes. File.mu is never held while waiting for budget or the
// network; the metadata function is called with it held, so the caller's locks must
// not be held while calling a File method.
package writeback
