/** Profiles of tabular versions (issue 18). Zod only. */
import { z } from 'zod';
export { versionParams } from './datasets.ts';
