/**
 * A change of the ordered rules as people read it (diff, apply, history, an error naming the
 * change): the rules that went and the rules that came, not both lists whole. A summary of
 * both lists was 900 KB for 10,000 rules, printed on one line and kept in every version.
 *
 * The rules common to the start and the end of both lists are left out; of the rest, a rule
 * present as often on both sides is kept (it may have moved), the others went or came. A
 * change that only reorders says so. Each side names at most SHOWN rules and counts the rest.
 */

const SHOWN = 20;

export interface RuleSetDelta {
  /** The rules that went, in their order ('' when none). */
  before: string;
  /** The rules that came, in their order, or how the order changed. */
  after: string;
}

function listed(rules: string[]): string {
  const shown = rules.slice(0, SHOWN).join('; ');
  return rules.length > SHOWN ? `${shown}; … and ${rules.length - SHOWN} more` : shown;
}

/** Removes from `xs` each text `others` holds (once per occurrence there); returns what is left. */
function without(xs: string[], others: string[]): string[] {
  const left = new Map<string, number>();
  for (const o of others) left.set(o, (left.get(o) ?? 0) + 1);
  return xs.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n === 0) return true;
    left.set(x, n - 1);
    return false;
  });
}

export function ruleSetDelta(before: string[], after: string[]): RuleSetDelta {
  let head = 0;
  while (head < before.length && head < after.length && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail] === after[after.length - 1 - tail])
    tail++;
  const was = before.slice(head, before.length - tail);
  const is = after.slice(head, after.length - tail);
  const went = without(was, is);
  const came = without(is, was);
  if (!went.length && !came.length && was.length)
    return { before: '', after: `the same rules in another order from rule ${head + 1}: ${listed(is)}` };
  return { before: listed(went), after: listed(came) };
}
