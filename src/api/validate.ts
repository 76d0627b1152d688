/** The request schemas fastify checks bodies against, from the config's zod schemas. */
import { z } from 'zod';

/** JSON Schema (draft 7, what fastify's ajv speaks) of a zod schema, as the request sees it. */
export function jsonSchema(s: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(s, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}
