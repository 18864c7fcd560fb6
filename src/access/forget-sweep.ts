/**
 * The scheduled sweep of `principal_forgets`: the keys whose cached principal a committed write
 * made stale, recorded by D1 triggers in that write's transaction. The writer already told their
 * gates (PrincipalCache); telling them again costs each one D1 read, and makes good a call that
 * was lost (the gate unreachable, or the Worker gone between the commit and the call).
 */
import { asc, sql } from 'drizzle-orm';
import { database } from '../db/client';
import { principalForgets } from '../db/schema';
import type { Env } from '../env';
import { forgetEach } from './key-gate';
import { writtenLimit } from '../db/written-limit';

/** Rows per pass, and passes per run: a burst larger than that (a mass change) finishes on the next runs. */
const ROWS_PER_PASS = 500;
const PASSES_PER_RUN = 10;

/** Tells the gates of the recorded keys to forget, then deletes the rows of those that took it. Answers how many keys were told. */
export async function sweepPrincipalForgets(env: Env): Promise<number> {
  const db = database(env.DB);
  let told = 0;
  for (let pass = 0; pass < PASSES_PER_RUN; pass++) {
    const rows = await db
      .select({ id: principalForgets.id, keyHash: principalForgets.keyHash, accountId: principalForgets.accountId })
      .from(principalForgets)
      .orderBy(asc(principalForgets.id))
      .limit(writtenLimit(ROWS_PER_PASS));
    if (rows.length === 0) break;
    const keys = [...new Map(rows.map((r) => [`${r.keyHash} ${r.accountId}`, { keyHash: r.keyHash, accountId: r.accountId }])).values()];
    const failed = (await forgetEach(env, keys)).map((f) => f.keyHash);
    const upTo = rows.at(-1)!.id;
    // Failed keys keep their rows for the next run; one JSON parameter, whatever their number.
    await db.run(
      sql`delete from ${principalForgets} where ${principalForgets.id} <= ${upTo}
        and ${principalForgets.keyHash} not in (select value from json_each(${JSON.stringify(failed)}))`,
    );
    told += keys.length - failed.length;
    if (failed.length > 0 || rows.length < ROWS_PER_PASS) break;
  }
  return told;
}

export const principalForgetSweepJob = {
  name: 'principal-forget-sweep',
  async run(env: Env): Promise<{ told: number } | undefined> {
    const told = await sweepPrincipalForgets(env);
    return told > 0 ? { told } : undefined;
  },
};
