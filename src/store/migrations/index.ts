import type { Migration } from '../migrate.ts';
import { m0001 } from './0001_initial.ts';
import { m0002 } from './0002_sample_chunks.ts';
import { m0003 } from './0003_notification_keys.ts';
import { m0004 } from './0004_alert_list.ts';
import { m0005 } from './0005_notification_intents.ts';

/** Every schema migration, in version order. Never edit an applied one: add the next. */
export const migrations: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005];
