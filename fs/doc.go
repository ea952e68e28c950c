// Package fs is the FUSE node tree of ssecfs: directories are key prefixes, files are
// objects. It knows nothing of S3 requests: it talks to an ObjectStore (store.go), which
// sends every data request keyed.
//
// # A read, file by file
//
//   - dir.go, dirstream.go: a lookup or readdir lists the prefix (ListObjectsV2 with "/"
//     as delimiter); each entry's size and ETag become the node's attributes (attrs.go),
//     each stamped with the time its listing was sent, so older news never replaces
//     newer. A name no listing shows is asked for with one keyed HEAD.
//   - file.go, Open: a read-only open pins a readHandle to a version: the one a listing
//     (or lookup) gave within StatTTL, without a request, for a file whose version the
//     kernel holds no pages of; else the current one, learned with a keyed HEAD (unless
//     the lookup just made one). It tells the directory, for the prefetch (below).
//   - handle.go, readHandle.Read: reads go to a cache.Reader of that key and ETag, made
//     on the first read. The cache (package cache) serves pages it holds, and fetches
//     missing ones, and reads ahead of a sequential reader, with the RangeFunc given
//     here (fetch.go): a keyed ranged GET with If-Match on the ETag. A handle pinned
//     from a listing that finds the object replaced (412) before it returned any
//     bytes learns the new version (relearn: a HEAD) and reads that; the kernel is
//     told of a larger size. Otherwise a handle follows a rename or a save made by this
//     mount, never another writer's version (that read is ESTALE; reopening reads the
//     new version).
//   - prefetch.go: a directory whose files are opened in listing order (cp -r, rsync,
//     tar) has the next files' first bytes fetched into the cache before they are
//     opened, pinned with If-Match to the listed ETag, within an eighth of the cache,
//     and stops at the first open out of order.
//
// # A write, file by file
//
//   - write.go, openWritable and Create: a writable open joins the node's
//     writeback.File, made on the first writable open from the current version (its
//     base) and shared by every handle of the file until the last writer's release.
//   - handle.go, writeHandle.Write: the bytes go into the writeback.File (package
//     writeback: pages within the mount's write budget, sealed into an encrypted spill
//     file when memory is short, or streamed as multipart parts for a new file written
//     front to back). Reads of any handle of the file go through it too, so a read after
//     a write sees the write.
//   - handle.go, writeHandle.Flush (every close) and Fsync: write.go's sync calls
//     writeback.File.Save, which uploads the changes as one keyed PutObject, or a keyed
//     multipart upload that copies untouched ranges of the base server-side, under
//     If-Match on the base (If-None-Match for a new file), and records the new version
//     in the node and its directory's listing. A conflict is saved beside as
//     NAME.conflict-<time> and answers EIO.
//   - namespace.go: renames copy then delete (S3 has no rename) and move the node's key;
//     xattr.go and dirattrs.go keep attributes in the objects' user metadata.
//
// # Locks
//
// FS.renameMu comes first: renames hold it exclusively, every other change of the bucket
// (a save, a create, a delete, an attribute copy) shared, so a rename's copies and
// deletes never interleave with a change under a name it moves. Then a writeback.File's
// own locks; a node's mu (fileNode, dirNode, symlinkNode) is a leaf, taken last and held
// only to read or set its fields: object keys are read under it only. No node lock is
// held while calling into writeback, the cache or the store. Two locks are held across
// calls: a dirNode's walkMu (prefetch.go) across the cache's Prefetch, taken before the
// nodes' mu; a readHandle's relearnMu across the HEAD of relearn, taken before the
// handle's mu.
//
// # Metrics and callers
//
// observe.go: Mount puts observedFS between the kernel and the tree when anyone
// listens, which tells Options.Observer every operation with its errno and logs the
// failures at debug level; CallerOf finds the process behind a request's context for
// bucket.Config.CallerOf, and a read handle sends its page-cache fetches on behalf of
// the process that opened it.
//
// # Errors
//
// errno.go turns errors from below into what the kernel is told and logs them, once;
// failures the kernel is not told about (after a release, in the background, a conflict
// whose caller only sees EIO, a rename half done) are logged where they happen.
package fs
