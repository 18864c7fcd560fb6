/**
 * What a source does with a payload: `filters` decide whether it makes a task, `template`
 * renders the task from `{{dot.path}}` placeholders. A closed vocabulary: paths and literals,
 * no expressions. Only primitives render; a path that is missing (or holds an object, array or
 * null) refuses the delivery rather than making a task with holes.
 */
export interface IngressFilter {
  path: string;
  op: 'eq' | 'neq' | 'exists' | 'not_exists';
  value?: string | number | boolean;
}

export interface IngressTemplate {
  content: string;
  description?: string;
  priority?: number;
  labels?: string[];
  dedupe_key?: string;
}

export interface RenderedTask {
  content: string;
  description: string | null;
  priority: number;
  labels: string[];
  /** The rendered dedupe key, or null to use the body's hash. */
  dedupeKey: string | null;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The value at `a.b.0.c`, or undefined. */
export function valueAt(payload: unknown, path: string): unknown {
  let value: unknown = payload;
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

export function passesFilters(filters: IngressFilter[], payload: unknown): boolean {
  return filters.every((f) => {
    const value = valueAt(payload, f.path);
    const present = value !== undefined && value !== null;
    switch (f.op) {
      case 'exists':
        return present;
      case 'not_exists':
        return !present;
      case 'eq':
        return value === f.value;
      case 'neq':
        return value !== f.value;
      default:
        return false;
    }
  });
}

/** Placeholders whose path holds no primitive value. */
export class MissingPaths extends Error {
  constructor(readonly paths: { field: string; path: string }[]) {
    super(`Template paths not found in the payload (or not a string, number or boolean): ${paths.map((p) => p.path).join(', ')}`);
  }
}

interface RenderPlace {
  /** The task field being rendered, for errors. */
  field: string;
  /** Collects the placeholders the payload lacks. */
  missing: { field: string; path: string }[];
}

function renderString(template: string, payload: unknown, { field, missing }: RenderPlace): string {
  return template.replace(PLACEHOLDER, (_, path: string) => {
    const value = valueAt(payload, path);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    missing.push({ field, path });
    return '';
  });
}

/** The task a payload makes; throws MissingPaths naming every placeholder that did not resolve. */
export function renderTask(template: IngressTemplate, payload: unknown): RenderedTask {
  const missing: { field: string; path: string }[] = [];
  const content = renderString(template.content, payload, { field: 'content', missing }).trim().slice(0, 2000);
  const description =
    template.description === undefined
      ? null
      : renderString(template.description, payload, { field: 'description', missing }).slice(0, 10_000);
  const dedupeKey = template.dedupe_key === undefined ? null : renderString(template.dedupe_key, payload, { field: 'dedupe_key', missing });
  if (missing.length) throw new MissingPaths(missing);
  return { content, description, priority: template.priority ?? 1, labels: template.labels ?? [], dedupeKey };
}
