/** The OpenAPI Error schema documents exactly the typed list of error codes. */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/platform/errors';
import { api } from '../helpers/fixtures';

describe('error codes in the OpenAPI document', () => {
  it("the Error schema's code enum is ERROR_CODES", async () => {
    const res = await api('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    const code = (res.body as { components: { schemas: { Error: { properties: { code: { enum: string[] } } } } } }).components.schemas.Error
      .properties.code;
    expect([...code.enum].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('an answered error carries a listed code', async () => {
    const res = await api('GET', '/v1/tasks/tsk_nope', 'dlg_not_a_key');
    expect(res.status).toBe(401);
    expect(ERROR_CODES).toContain((res.body as { code: string }).code);
  });
});
