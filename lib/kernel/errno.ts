// include/uapi/asm-generic/errno-base.h, errno.h and include/linux/errno.h:
// the numeric values user space sees, and glibc's strerror() texts for them.

/** Operation not permitted. */
export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** Interrupted system call. */
export const EINTR = 4;
/** Argument list too long (the kernel's "map is full"). */
export const E2BIG = 7;
/** Bad file descriptor. */
export const EBADF = 9;
/** Try again. */
export const EAGAIN = 11;
/** Out of memory. */
export const ENOMEM = 12;
/** Permission denied. */
export const EACCES = 13;
/** Bad address. */
export const EFAULT = 14;
/** Device or resource busy (map_locked recursion, 5.11-6.14). */
export const EBUSY = 16;
/** File exists. */
export const EEXIST = 17;
/** Not a directory. */
export const ENOTDIR = 20;
/** Is a directory. */
export const EISDIR = 21;
/** Invalid argument. */
export const EINVAL = 22;
/** Too many open files. */
export const EMFILE = 24;
/** No space left on device (batch ops). */
export const ENOSPC = 28;
/** Resource deadlock would occur (rqspinlock AA/ABBA, 6.15+). */
export const EDEADLK = 35;
/** Directory not empty. */
export const ENOTEMPTY = 39;
/** No data available. */
export const ENODATA = 61;
/** Operation not supported on transport endpoint (user-visible EOPNOTSUPP). */
export const EOPNOTSUPP = 95;
/** Connection timed out (rqspinlock timeout, 6.15+). */
export const ETIMEDOUT = 110;
/** Kernel-internal "operation is not supported" that leaks to user space. */
export const ENOTSUPP = 524;

/**
 * Not an errno: bpfsim's answer for a call whose CPU locked up (a real
 * deadlock). On a real machine the system call never returns; the simulator
 * returns this so the caller can go on, and the lockup is in dmesg.
 */
export const ESIMHUNG = 4096;

const TEXT: Record<number, string> = {
  [EPERM]: "Operation not permitted",
  [ENOENT]: "No such file or directory",
  [EINTR]: "Interrupted system call",
  [E2BIG]: "Argument list too long",
  [EBADF]: "Bad file descriptor",
  [EAGAIN]: "Resource temporarily unavailable",
  [ENOMEM]: "Cannot allocate memory",
  [EACCES]: "Permission denied",
  [EFAULT]: "Bad address",
  [EBUSY]: "Device or resource busy",
  [EEXIST]: "File exists",
  [ENOTDIR]: "Not a directory",
  [EISDIR]: "Is a directory",
  [EINVAL]: "Invalid argument",
  [EMFILE]: "Too many open files",
  [ENOSPC]: "No space left on device",
  [EDEADLK]: "Resource deadlock avoided",
  [ENOTEMPTY]: "Directory not empty",
  [ENODATA]: "No data available",
  [EOPNOTSUPP]: "Operation not supported",
  [ETIMEDOUT]: "Connection timed out",
  [ESIMHUNG]: "CPU locked up (the call never returns; see dmesg)",
};

/** glibc's strerror(): the text bpftool prints after "failed: ". */
export function strerror(errno: number): string {
  const e = errno < 0 ? -errno : errno;
  return TEXT[e] ?? `Unknown error ${e}`;
}

const NAMES: Record<number, string> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EINTR]: "EINTR",
  [E2BIG]: "E2BIG",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EACCES]: "EACCES",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENOTDIR]: "ENOTDIR",
  [EISDIR]: "EISDIR",
  [EINVAL]: "EINVAL",
  [EMFILE]: "EMFILE",
  [ENOSPC]: "ENOSPC",
  [EDEADLK]: "EDEADLK",
  [ENOTEMPTY]: "ENOTEMPTY",
  [ENODATA]: "ENODATA",
  [EOPNOTSUPP]: "EOPNOTSUPP",
  [ETIMEDOUT]: "ETIMEDOUT",
  [ENOTSUPP]: "ENOTSUPP",
  [ESIMHUNG]: "ESIMHUNG",
};

/** The symbolic name of an errno ("ENOENT"), for messages and tests. */
export function errnoName(errno: number): string {
  const e = errno < 0 ? -errno : errno;
  return NAMES[e] ?? `E${e}`;
}
