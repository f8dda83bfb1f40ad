/**
 * Loading the detector set an evaluation runs: the default profile, or a YAML/JSON file of the
 * form `detectors: [{name, config}]` (the same entries the server's config takes).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { DetectorEntry, DetectorSet } from '../detect/types.ts';
import { TidemarkError } from '../errors.ts';

/** Parses detector entries from YAML or JSON text (`detectors: [{name, config}]`), strictly. */
export function parseDetectorEntries(text: string, path: string): DetectorEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TidemarkError('TM_ERR_CONFIG', `not valid YAML or JSON: ${(err as Error).message}`, path);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TidemarkError('TM_ERR_CONFIG', 'expected a mapping with a `detectors` list, e.g. detectors: [{name: robust_z}]', path);
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'detectors') throw new TidemarkError('TM_ERR_CONFIG', `unknown key '${key}' (valid: detectors)`, `${path}: ${key}`);
  }
  const list = (doc as { detectors?: unknown }).detectors;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TidemarkError('TM_ERR_CONFIG', 'expected a non-empty list of {name, config} entries', `${path}: detectors`);
  }
  return list.map((e: unknown, i: number): DetectorEntry => {
    const where = `${path}: detectors[${i}]`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new TidemarkError('TM_ERR_CONFIG', 'expected {name, config}', where);
    for (const key of Object.keys(e)) {
      if (key !== 'name' && key !== 'config') throw new TidemarkError('TM_ERR_CONFIG', `unknown key '${key}' (valid: name, config)`, `${where}.${key}`);
    }
    const { name, config } = e as { name?: unknown; config?: unknown };
    if (typeof name !== 'string' || name === '') throw new TidemarkError('TM_ERR_CONFIG', 'expected a detector name', `${where}.name`);
    return config === undefined ? { name } : { name, config };
  });
}

/**
 * The default detector set, or the one a YAML/JSON file lists. The detectors load on demand, so
 * that scoring and generating work without them.
 */
export async function loadDetectorSet(path?: string): Promise<DetectorSet> {
  const { createDetectorSet } = await import('../detect/index.ts');
  if (path === undefined) return createDetectorSet();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file', path);
    throw err;
  }
  return createDetectorSet(parseDetectorEntries(text, path));
}
