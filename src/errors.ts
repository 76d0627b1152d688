/**
 * The error catalog: every failure Pathwise reports has a stable PW_ERR_* code, an HTTP status
 * (for the REST API) and a CLI exit code, so scripts and clients can tell failure kinds apart.
 * Messages say what was wrong, where, and what to do.
 */

export const ErrorCatalog = {
  PW_ERR_USAGE: { http: 400, exit: 2, summary: 'invalid command-line usage' },
  PW_ERR_INVALID: { http: 400, exit: 3, summary: 'invalid input' },
  PW_ERR_NOT_FOUND: { http: 404, exit: 4, summary: 'no such object' },
  PW_ERR_EXISTS: { http: 409, exit: 5, summary: 'already exists' },
  PW_ERR_FULL: { http: 507, exit: 6, summary: 'a table is full' },
  PW_ERR_PERMISSION: { http: 403, exit: 7, summary: 'not permitted (run as root or grant CAP_BPF/CAP_NET_ADMIN)' },
  PW_ERR_UNSUPPORTED: { http: 501, exit: 8, summary: 'not supported on this kernel or interface' },
  PW_ERR_VERIFIER: { http: 500, exit: 9, summary: 'the kernel verifier rejected a program' },
  PW_ERR_LAYOUT: { http: 500, exit: 10, summary: 'kernel/user struct layout mismatch' },
  PW_ERR_KERNEL: { http: 500, exit: 11, summary: 'a kernel call failed' },
  PW_ERR_NOT_RUNNING: { http: 503, exit: 12, summary: 'the data plane is not loaded' },
  PW_ERR_NOT_BUILT: { http: 500, exit: 13, summary: 'a build artifact is missing' },
  PW_ERR_AUTH: { http: 401, exit: 14, summary: 'a valid API token is needed' },
  PW_ERR_FORBIDDEN: { http: 403, exit: 15, summary: 'the token may not do this (read-only)' },
  PW_ERR_UNREACHABLE: { http: 503, exit: 16, summary: 'the daemon cannot be reached' },
  PW_ERR_TOO_LARGE: { http: 413, exit: 17, summary: 'the request body is too large' },
  PW_ERR_BUSY: { http: 409, exit: 18, summary: 'busy: another user holds it' },
  PW_ERR_INTERNAL: { http: 500, exit: 70, summary: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCatalog;

/** Properties of the Node-style errors the native binding throws. */
export interface NativeErrorProps {
  errno?: number;
  code?: string;
  syscall?: string;
  verifierLog?: string | null;
  libbpfLog?: string;
  applied?: number;
}

export class PwError extends Error {
  readonly code: ErrorCode;
  /** Where the problem is: a file:line:column, a JSON path, an interface or map name. */
  readonly where?: string;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { where?: string; hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'PwError';
    this.code = code;
    this.where = opts.where;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  get httpStatus(): number {
    return ErrorCatalog[this.code].http;
  }

  get exitCode(): number {
    return ErrorCatalog[this.code].exit;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      where: this.where,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

const ERRNO_TO_CODE: Record<string, ErrorCode> = {
  EPERM: 'PW_ERR_PERMISSION',
  EACCES: 'PW_ERR_PERMISSION',
  ENOENT: 'PW_ERR_NOT_FOUND',
  ENODEV: 'PW_ERR_NOT_FOUND',
  EEXIST: 'PW_ERR_EXISTS',
  E2BIG: 'PW_ERR_FULL',
  ENOSPC: 'PW_ERR_FULL',
  EOPNOTSUPP: 'PW_ERR_UNSUPPORTED',
  ENOTSUP: 'PW_ERR_UNSUPPORTED',
  EINVAL: 'PW_ERR_INVALID',
};

/** Wraps an error thrown by the native binding in a PwError with a catalog code. */
export function fromNative(err: unknown, what: string, where?: string): PwError {
  if (err instanceof PwError) return err;
  const e = err as Error & NativeErrorProps;
  if (e.verifierLog) {
    return new PwError('PW_ERR_VERIFIER', `${what}: the verifier rejected the program: ${lastLines(e.verifierLog, 2)}`, {
      where,
      hint: 'the full verifier log is in details.verifierLog',
      details: { verifierLog: e.verifierLog, errno: e.errno, syscall: e.syscall, ...(e.libbpfLog ? { libbpfLog: e.libbpfLog } : {}) },
      cause: err,
    });
  }
  const code = (e.code && ERRNO_TO_CODE[e.code]) || 'PW_ERR_KERNEL';
  return new PwError(code, `${what}: ${e.message}`, {
    where,
    hint: code === 'PW_ERR_PERMISSION' ? ErrorCatalog.PW_ERR_PERMISSION.summary : undefined,
    details: { errno: e.errno, syscall: e.syscall, ...(e.libbpfLog ? { libbpfLog: e.libbpfLog } : {}) },
    cause: err,
  });
}

function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join(' / ');
}
