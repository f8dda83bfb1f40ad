import type { FastifyRequest } from 'fastify';
import { TidemarkError } from '../errors.ts';

/**
 * The JSON object body of a route that takes a small JSON document (buffered by the app's
 * content-type parser): an empty body is `{}`; another media type is 415; anything but an
 * object is 400 naming `body`, with an example of what is expected.
 */
export function jsonObject(req: FastifyRequest, example: string): Record<string, unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
  const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (buf.length === 0) return {};
  if (type !== 'application/json') throw new TidemarkError('TM_ERR_MEDIA_TYPE', `Content-Type ${JSON.stringify(type)} is not accepted here; send application/json`, 'Content-Type');
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid JSON (${(err as Error).message})`, 'body');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TidemarkError('TM_ERR_INPUT', `expected a JSON object such as ${example}`, 'body');
  return doc as Record<string, unknown>;
}
