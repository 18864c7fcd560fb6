/**
 * Duplicate detection: TF-IDF vectors with cosine similarity between a proposed task's content
 * and the caller's visible open tasks. Small and dependency-free on purpose.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { tasks } from '../db/schema';
import type { Principal } from '../access/policy';
import { visibleTasks } from './task-access';
import { writtenLimit } from '../db/written-limit';

/** How many of the newest open tasks are compared; bounds the work per request. */
export const DEDUP_CANDIDATES = 2000;
export const DEDUP_MAX_MATCHES = 20;

const STOPWORDS = new Set(
  'a an and are as at be by for from in into is it of on or the to with this that these those we our you your'.split(' '),
);

export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => !STOPWORDS.has(t));
}

type Vector = Map<string, number>;

function termFrequencies(tokens: string[]): Map<string, number> {
  const tf = new Map<string, number>();
  for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
  return tf;
}

function cosine(a: Vector, b: Vector): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [t, w] of a) {
    na += w * w;
    const o = b.get(t);
    if (o !== undefined) dot += w * o;
  }
  for (const w of b.values()) nb += w * w;
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export interface Match {
  id: string;
  content: string;
  similarity: number;
}

/**
 * Ranks `docs` by similarity to `query`. IDF is smoothed (`ln((1+N)/(1+df)) + 1`) over the
 * documents plus the query, so a term every task shares weighs little but never zero.
 */
export function rankSimilar(query: string, docs: { id: string; content: string }[], threshold: number): Match[] {
  const queryTf = termFrequencies(tokenize(query));
  const docTfs = docs.map((d) => termFrequencies(tokenize(d.content)));
  const df = new Map<string, number>();
  for (const tf of [queryTf, ...docTfs]) for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  const n = docs.length + 1;
  const weigh = (tf: Map<string, number>): Vector => {
    const v: Vector = new Map();
    for (const [t, f] of tf) v.set(t, f * (Math.log((1 + n) / (1 + (df.get(t) ?? 0))) + 1));
    return v;
  };
  const q = weigh(queryTf);
  const matches: Match[] = [];
  docs.forEach((d, i) => {
    const similarity = cosine(q, weigh(docTfs[i]!));
    if (similarity > 0 && similarity >= threshold)
      matches.push({ id: d.id, content: d.content, similarity: Math.round(similarity * 1000) / 1000 });
  });
  return matches.sort((a, b) => b.similarity - a.similarity || a.id.localeCompare(b.id)).slice(0, DEDUP_MAX_MATCHES);
}

export interface DuplicateSearch {
  content: string;
  /** The least similarity (0-1) that counts as a duplicate. */
  threshold: number;
}

export async function findDuplicates(db: Db, p: Principal, { content, threshold }: DuplicateSearch): Promise<Match[]> {
  const docs = await db
    .select({ id: tasks.id, content: tasks.content })
    .from(tasks)
    .where(and(visibleTasks(p), eq(tasks.completed, false)))
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(writtenLimit(DEDUP_CANDIDATES));
  return rankSimilar(content, docs, threshold);
}
