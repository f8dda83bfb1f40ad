import type { Migration } from '../migrate.ts';
import { m0001 } from './0001_initial.ts';

/** Every schema migration, in version order. Never edit an applied one: add the next. */
export const migrations: readonly Migration[] = [m0001];
