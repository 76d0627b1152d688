/**
 * Turns of the event loop for long walks over a full table (a million flows, a million
 * routes): they give the loop a turn every few milliseconds, so timers and I/O (health checks,
 * API requests, the event stream) run meanwhile.
 */

/** A turn of the event loop. setImmediate, not a resolved promise: that would run before I/O is polled. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Time-boxed turns for a walk: `if (turns.due(i)) await turns.take()` at each step gives the
 * loop a turn once `budgetMs` has passed since the last one. By time, not by count: a walk's
 * first pass over memory just copied from the kernel costs several times its later ones. (A
 * check, not an await per step: a million awaits would cost more than the walk.)
 */
export class Turns {
  private since = performance.now();

  /** `stepsPerLook`: steps between two looks at the clock (fewer for steps that cost more). */
  constructor(
    private readonly budgetMs = 10,
    private readonly stepsPerLook = 4096,
  ) {}

  /** Whether the budget is spent. */
  due(i: number): boolean {
    return i % this.stepsPerLook === 0 && performance.now() - this.since >= this.budgetMs;
  }

  async take(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}

/**
 * Turns for walks whose steps are pages of a batch read (thousands of entries each): a look at
 * the clock after every page, `await turns.afterPage()`, and a turn once the budget is spent.
 * Not for a step per entry: it awaits at each call.
 */
export class PageTurns {
  private readonly turns: Turns;

  constructor(budgetMs = 10) {
    this.turns = new Turns(budgetMs, 1);
  }

  async afterPage(): Promise<void> {
    if (this.turns.due(0)) await this.turns.take();
  }
}
