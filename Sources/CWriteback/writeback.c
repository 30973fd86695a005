#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>

#include "writeback.h"

int pgbak_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
}

int pgbak_drop_behind(int fd, long long offset, long long length) {
    unsigned int flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    if (sync_file_range(fd, (off_t)offset, (off_t)length, flags) != 0) return -1;
    int rc = posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

int pgbak_create_direct(const char *path, unsigned int mode, long long size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, (mode_t)mode);
    if (fd >= 0 && size > 0) (void)fallocate(fd, 0, 0, (off_t)size);
    return fd;
}

int pgbak_end_direct(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags & ~O_DIRECT);
}

int pgbak_punch_hole(int fd, long long offset, long long length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

#include <malloc.h>

int pgbak_large_allocations_unmapped(void) {
    return mallopt(M_MMAP_THRESHOLD, 4 << 20);
}
