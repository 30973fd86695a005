#ifndef PGBAK_WRITEBACK_H
#define PGBAK_WRITEBACK_H

/// Asks the kernel to start writing the dirty pages of bytes [offset, offset + length) of `fd` to disk, without
/// waiting for them (Linux sync_file_range with SYNC_FILE_RANGE_WRITE). Durability still needs fsync; this only
/// spreads the disk writes over the time the file is being written. Returns 0, or -1 with errno set.
int pgbak_start_writeback(int fd, long long offset, long long length);

/// Waits until bytes [offset, offset + length) of `fd` are on disk (starting their writeback if needed), then drops
/// them from the page cache (posix_fadvise POSIX_FADV_DONTNEED). Does not make the file's metadata durable: that is
/// still fsync's job. `length` 0 means to the end of the file. Returns 0, or -1 with errno set.
int pgbak_drop_behind(int fd, long long offset, long long length);

/// Creates `path` (failing with EEXIST if it exists) for writing with O_DIRECT: writes go from the caller's buffer
/// to the disk, around the page cache, and must be aligned to the logical block size in address, offset and length.
/// Its `size` bytes are allocated in one piece where the filesystem can (fallocate; a failure is ignored): the writes
/// then fill allocated space instead of growing the file one write at a time. Returns the descriptor, or -1 with
/// errno set (EINVAL: the filesystem has no O_DIRECT; the file may then exist).
int pgbak_create_direct(const char *path, unsigned int mode, long long size);

/// Turns O_DIRECT off on `fd`, so that an unaligned tail can be written through the page cache. 0, or -1 with errno.
int pgbak_end_direct(int fd);

/// Frees the blocks of bytes [offset, offset + length) of `fd` (they read as zeros afterwards), keeping the file's
/// size: what has been uploaded elsewhere stops taking local disk space. Returns 0, or -1 with errno set (EOPNOTSUPP
/// on a filesystem without it).
int pgbak_punch_hole(int fd, long long offset, long long length);

/// Makes every allocation of 4 MiB or more its own mapping, returned to the system when freed. glibc otherwise raises
/// that threshold after the first such block is freed and keeps later ones (upload parts, read-ahead chunks, on
/// several threads' arenas) in heaps that do not shrink. Smaller buffers (1 MiB read chunks) stay in the heap, where
/// they are reused without page faults. Returns mallopt's result (1: done).
int pgbak_large_allocations_unmapped(void);

#endif
