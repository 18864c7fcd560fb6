/** How the claim queue puts the statements of jobs batched together into one D1 batch. */
import { describe, expect, it } from 'vitest';
import { shareLeading } from '../../src/work-queue/claim-queue';

describe('a claim queue batch', () => {
  it('runs a statement several jobs lead with once, and gives each job every one of its results', () => {
    const sweep = { sql: 'update runs set x = 1 where account_id = ?', params: ['acc'] };
    const otherMoment = { sql: sweep.sql, params: ['acc2'] };
    const claim = (n: number) => ({ sql: 'update tasks set n = ?', params: [n] });
    const job = (shared: number) => ({ build: () => [], shared, resolve: () => undefined, reject: () => undefined });
    const { statements, slots } = shareLeading([
      { job: job(0), queries: [sweep, claim(0)] },
      { job: job(1), queries: [sweep, claim(1)] },
      { job: job(1), queries: [sweep, claim(2)] },
      { job: job(1), queries: [otherMoment, claim(3)] },
    ]);
    // The first job does not share: its sweep is its own; the next two share one.
    expect(statements).toEqual([sweep, claim(0), sweep, claim(1), claim(2), otherMoment, claim(3)]);
    expect(slots).toEqual([
      [0, 1],
      [2, 3],
      [2, 4],
      [5, 6],
    ]);
  });
});
