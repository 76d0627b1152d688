/**
 * Writes docs/config.schema.json and docs/config.md from the config schema
 * (src/control/config/schema.ts): the schema is the one definition; these are views of it.
 *
 *   node dist/scripts/gen-config-docs.js OUT_DIR
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

import { Config } from '../src/control/config/schema.js';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  required?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `map of name → ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'value');
}

function rows(s: JsonSchema, path: string, out: string[]): void {
  const props =
    s.properties ??
    (s.type === 'array' ? s.items?.properties : undefined) ??
    (typeof s.additionalProperties === 'object' ? s.additionalProperties.properties : undefined);
  if (!props) return;
  const inner = s.properties ? s : s.type === 'array' ? s.items! : (s.additionalProperties as JsonSchema);
  const suffix = s.properties ? '' : s.type === 'array' ? '[]' : '.NAME';
  for (const [name, p] of Object.entries(props)) {
    const key = `${path}${suffix}${path || suffix ? '.' : ''}${name}`.replace(/^\./, '');
    const req =
      inner.required?.includes(name) && p.default === undefined
        ? 'required'
        : p.default !== undefined
          ? `\`${JSON.stringify(p.default)}\``
          : '';
    const range = p.minimum !== undefined || p.maximum !== undefined ? ` (${p.minimum ?? ''}…${p.maximum ?? ''})` : '';
    out.push(`| \`${key}\` | ${typeOf(p)}${range} | ${req} | ${(p.description ?? '').replace(/\|/g, '\\|')} |`);
    rows(p, key, out);
  }
}

const outDir = process.argv[2] ?? 'docs';
const schema = z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
writeFileSync(join(outDir, 'config.schema.json'), `${JSON.stringify(schema, null, 2)}\n`);
const lines = [
  '# Configuration reference',
  '',
  '<!-- generated from src/control/config/schema.ts by scripts/gen-config-docs.ts — do not edit -->',
  '',
  'A configuration is YAML (JSON works too). Every problem in it is reported with',
  'file:line:column and the path of the value, and a configuration with any problem is not',
  'applied. The JSON Schema is in [config.schema.json](config.schema.json); commented',
  'examples are in [examples/](../examples).',
  '',
  '| key | type | default | meaning |',
  '| --- | --- | --- | --- |',
];
rows(schema, '', lines);
writeFileSync(join(outDir, 'config.md'), `${lines.join('\n')}\n`);
