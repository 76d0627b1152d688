/**
 * Lists that can be long (a full Internet table, a million blocked prefixes) come a page at a
 * time: ?offset=N&limit=M (at most MAX_PAGE), the whole count in the pathwise-total header.
 * The body stays a plain array.
 */
import type { FastifyReply } from 'fastify';

export const DEFAULT_PAGE = 10_000;
export const MAX_PAGE = 100_000;

export const PAGE = {
  // A bound, or '1e999' (Infinity) passes as an integer and reaches an SQL OFFSET.
  offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
} as const;

export function page<T>(reply: FastifyReply, all: T[], q: { offset: number; limit: number }): T[] {
  void reply.header('pathwise-total', String(all.length));
  return all.slice(q.offset, q.offset + q.limit);
}
