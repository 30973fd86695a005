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

#endif
