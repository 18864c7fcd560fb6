/**
 * Rendered SQL kept per isolate, by everything its text and values depend on: rendering a
 * statement with drizzle costs about as much CPU as D1 takes to run a small one. Measured A/B
 * (bench/RESULTS.md, "A/B of the optimisations"): without it a label listing of 20,000 tasks
 * cost 7.56 ms of workerd CPU per request against 6.38, and claim-and-complete 16.1 ms per task
 * against 13.3; a plain listing showed no difference above the machine's noise. The dashboard
 * board keeps its nine statements too (`dashboard/queries.ts`: 0.29 to 0.32 of /health).
 */
export class RenderedSql<V> {
  private readonly kept = new Map<string, V>();

  constructor(private readonly max: number) {}

  /** What is kept under `key`, else render()'s answer, kept; the least recently used goes first. */
  get(key: string, render: () => V): V {
    let value = this.kept.get(key);
    if (value !== undefined) {
      this.kept.delete(key);
    } else {
      value = render();
      if (this.kept.size >= this.max) this.kept.delete(this.kept.keys().next().value!);
    }
    this.kept.set(key, value);
    return value;
  }
}
