/** The request schemas fastify checks bodies against, from the config's zod schemas. */
import { z } from 'zod';

/** JSON Schema (draft 7, what fastify's ajv speaks) of a zod schema, as the request sees it. */
export function jsonSchema(s: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(s, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return withoutZodFormats(out) as Record<string, unknown>;
}

/**
 * zod names some string checks as formats no JSON Schema validator knows (startsWith gives
 * `format: "starts_with"` beside the `pattern` that does the check): ajv would warn of each at
 * every start. Those formats are dropped; the patterns stay.
 */
function withoutZodFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutZodFormats);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'format' && typeof v === 'string' && ZOD_ONLY_FORMATS.has(v)) continue;
    out[k] = withoutZodFormats(v);
  }
  return out;
}

const ZOD_ONLY_FORMATS = new Set(['starts_with', 'ends_with', 'includes']);
