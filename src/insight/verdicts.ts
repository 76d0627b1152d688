/** Names of the pipeline's verdicts and reasons, from the generated enums. */
import * as abi from '../generated/pathwise.js';

const verdictNames = Object.keys(abi.PwVerdict)
  .filter((k) => k !== 'MAX')
  .map((k) => k.toLowerCase());
const reasonNames = Object.entries(abi.PwReason)
  .filter(([k]) => k !== 'MAX' && k !== 'MALFORMED_MAX')
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.toLowerCase());

export const reasonName = (r: number) => reasonNames[r] ?? `reason_${r}`;
export const verdictName = (v: number) => verdictNames[v] ?? `verdict_${v}`;
